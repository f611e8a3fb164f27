# Case (a): N independent trivial jobs (each touches one file). N from --config count=N
N = int(config.get("count", 200))


rule all:
    input:
        expand("a/{i}.done", i=range(N)),


rule job:
    output:
        "a/{i}.done",
    shell:
        "touch {output}"
