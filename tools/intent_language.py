"""The intent language: a latent-variable dialogue language in which next-token
pre-training *must* learn the concept a preference depends on.

Used by `make_intent_suite.py` (see tools/README.md). Pure Python, seeded, no torch.

A dialogue is

    Human: <prompt> Assistant: <response> | <reaction>

- The prompt carries a hidden **intent** k ∈ {0, …, K−1}. It is never written as one word:
  every *cue* word belongs to exactly two intents (there is one cue word per unordered
  pair of intents), and a prompt holds `CUES` cue words drawn from the K−1 cue words that
  contain k, mixed with filler words. Any two distinct cue words of a prompt share only k,
  so the intent is determined by how cue words *combine*, not by any single word; with
  probability `CUE_NOISE` one cue word is replaced by a random one.
- The response is *helpful* (its content words are drawn from k's answer words, each with
  probability `ON_TOPIC`, else from a random intent's) or *unhelpful* (the same, for
  another intent k' ≠ k). Both kinds look alike on their own: only the match between the
  prompt's intent and the response's topic tells them apart.
- After the response, `|` and the human's **reaction**: a thanking word after a helpful
  response, a complaining word after an unhelpful one (flipped with probability
  `REACTION_NOISE`). To predict the reaction, a language model has to infer the intent
  from the prompt, the topic from the response and compare them — at the `|` token, whose
  hidden state is what `embed` reads (the last token of a preference text).

Pre-training text: dialogues with helpful and unhelpful responses in equal proportion.
Preference data: the same prompt with one helpful and one unhelpful response, both ending
at `|`; `chosen` is the helpful one except with probability `LABEL_NOISE` (label noise),
so no model can exceed 1 − LABEL_NOISE in expectation.
"""

import itertools
import random

K = 6
CUES = 3
CUE_NOISE = 0.1
ANSWER_WORDS = 10
RESPONSE_WORDS = 5
ON_TOPIC = 0.85
REACTION_NOISE = 0.05
LABEL_NOISE = 0.1

EOS = "<|endoftext|>"
UNK = "[UNK]"
HUMAN, ASSISTANT, BAR = "Human:", "Assistant:", "|"
THANKS = ["thanks", "great", "perfect"]
COMPLAINTS = ["no", "wrong", "useless"]
FILLERS = ("please can you tell me about how what the a my i want need know some help with "
           "for is it do to and of").split()
SYLLABLES = "ba be bi bo bu da de di do du ka ke ki ko ku la le li lo lu ma me mi mo mu na ne ni no nu ra re ri ro ru sa se si so su ta te ti to tu".split()

PARAMS = dict(K=K, CUES=CUES, CUE_NOISE=CUE_NOISE, ANSWER_WORDS=ANSWER_WORDS, RESPONSE_WORDS=RESPONSE_WORDS,
              ON_TOPIC=ON_TOPIC, REACTION_NOISE=REACTION_NOISE, LABEL_NOISE=LABEL_NOISE)


class Language:
    """The vocabulary (fixed by `vocab_seed`) and the samplers."""

    def __init__(self, vocab_seed=0):
        rng = random.Random(vocab_seed)
        words = set(FILLERS) | set(THANKS) | set(COMPLAINTS)

        def fresh(syllables):
            while True:
                w = "".join(rng.choice(SYLLABLES) for _ in range(syllables))
                if w not in words:
                    words.add(w)
                    return w

        # One cue word per unordered pair of intents.
        self.cue_words = {pair: fresh(2) for pair in itertools.combinations(range(K), 2)}
        self.cues_of = [[w for pair, w in self.cue_words.items() if k in pair] for k in range(K)]
        self.answers = [[fresh(3) for _ in range(ANSWER_WORDS)] for _ in range(K)]
        self.vocab = ([EOS, UNK, HUMAN, ASSISTANT, BAR] + FILLERS + THANKS + COMPLAINTS
                      + sorted(self.cue_words.values()) + [w for a in self.answers for w in a])

    def prompt(self, rng, k):
        cues = rng.sample(self.cues_of[k], CUES)
        if rng.random() < CUE_NOISE:
            cues[rng.randrange(CUES)] = rng.choice(list(self.cue_words.values()))
        words = cues + rng.sample(FILLERS, rng.randint(2, 4))
        rng.shuffle(words)
        return " ".join(words)

    def response(self, rng, topic):
        out = []
        for _ in range(RESPONSE_WORDS):
            t = topic if rng.random() < ON_TOPIC else rng.randrange(K)
            out.append(rng.choice(self.answers[t]))
        # One or two fillers somewhere, so positions vary.
        for _ in range(rng.randint(1, 2)):
            out.insert(rng.randrange(len(out) + 1), rng.choice(FILLERS))
        return " ".join(out)

    def other_intent(self, rng, k):
        return rng.choice([j for j in range(K) if j != k])

    def turn(self, prompt, response):
        """A preference text: the dialogue up to and including `|`."""
        return f"{HUMAN} {prompt} {ASSISTANT} {response} {BAR}"

    def pretraining_dialogue(self, rng):
        k = rng.randrange(K)
        helpful = rng.random() < 0.5
        topic = k if helpful else self.other_intent(rng, k)
        text = self.turn(self.prompt(rng, k), self.response(rng, topic))
        pleased = helpful != (rng.random() < REACTION_NOISE)
        return f"{text} {rng.choice(THANKS if pleased else COMPLAINTS)}"

    def preference_pair(self, rng):
        """{"chosen", "rejected", "intent", "noisy"}: `noisy` = the label was flipped."""
        k = rng.randrange(K)
        prompt = self.prompt(rng, k)
        good = self.turn(prompt, self.response(rng, k))
        bad = self.turn(prompt, self.response(rng, self.other_intent(rng, k)))
        noisy = rng.random() < LABEL_NOISE
        chosen, rejected = (bad, good) if noisy else (good, bad)
        return {"chosen": chosen, "rejected": rejected, "intent": k, "noisy": noisy}
