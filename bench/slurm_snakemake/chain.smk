# Case (b): a chain of DEPTH trivial jobs, each depending on the previous one.
DEPTH = int(config.get("depth", 50))


rule all:
    input:
        f"b/{DEPTH - 1}.done",


rule step:
    input:
        lambda w: [] if int(w.i) == 0 else [f"b/{int(w.i) - 1}.done"],
    output:
        "b/{i}.done",
    shell:
        "touch {output}"
