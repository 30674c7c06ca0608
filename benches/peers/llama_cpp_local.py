#!/usr/bin/env python3
"""llama.cpp (through llama-cpp-python) on the same GGUF file and the same GENIUS-sized prompt as genius-llm's
`local_throughput` example: load time, prompt tokens/s and generated tokens/s, free and constrained to a JSON schema
(llama.cpp's grammar), peak memory. The figures beside genius-llm's are in BENCHMARKS.md.

    python3 -m venv venv && venv/bin/pip install cmake ninja scikit-build-core
    CMAKE_ARGS="-DGGML_NATIVE=ON" venv/bin/pip install llama-cpp-python==0.3.36   # compiles llama.cpp
    venv/bin/python benches/peers/llama_cpp_local.py ~/.cache/genius/models/SmolLM2-135M-Instruct.Q4_1.gguf
"""
import resource
import sys
import time

import llama_cpp
from llama_cpp import Llama

path = sys.argv[1]
t = time.time()
llm = Llama(model_path=path, n_ctx=2048, n_threads=2, n_batch=512, verbose=False, seed=0)
print(f"load {time.time()-t:.2f} s")
history = ""
for i in range(12):
    history += "depth {}, width {}, op {} gives an accuracy of {:.2f}%\n".format(
        1 + i % 3, [1, 16, 32, 64][i % 4], ["conv", "pool"][i % 2], 80.0 + (i * 1.37) % 10.0)
user = ("You are designing a network. Its 3 positions are: depth (1, 2, 3); width (1, 16, 32, 64); op (conv, pool). "
        "Here are the designs tried so far and their validation accuracy:\n" + history +
        "Propose a better design. Reply in JSON.")
messages = [{"role": "system", "content": "You are an expert in the field of neural architecture search."},
            {"role": "user", "content": user}]
schema = {"type": "object", "properties": {"architecture": {"type": "object", "properties": {
    "depth": {"enum": [1, 2, 3]}, "width": {"enum": [1, 16, 32, 64]}, "op": {"enum": ["conv", "pool"]}},
    "required": ["depth", "width", "op"]}}, "required": ["architecture"]}
for constrained in [False, True]:
    for seed in [0, 1]:
        llm.reset()
        llm.set_seed(seed)
        kw = dict(messages=messages, temperature=0.7, max_tokens=128, seed=seed)
        if constrained:
            kw["response_format"] = {"type": "json_object", "schema": schema}
        t0 = time.time()
        out = llm.create_chat_completion(**kw)
        wall = time.time() - t0
        u = out["usage"]
        # Prompt and generation timings from llama.cpp's own counters.
        perf = llama_cpp.llama_perf_context(llm._ctx.ctx)
        pp = perf.n_p_eval / (perf.t_p_eval_ms / 1000) if perf.t_p_eval_ms else float("nan")
        tg = perf.n_eval / (perf.t_eval_ms / 1000) if perf.t_eval_ms else float("nan")
        print(f"constrained={constrained} seed={seed} prompt {u['prompt_tokens']} tok ({pp:.1f} tok/s) "
              f"reply {u['completion_tokens']} tok ({tg:.1f} tok/s) wall {wall:.2f} s: "
              f"{out['choices'][0]['message']['content'][:80]!r}")
        llama_cpp.llama_perf_context_reset(llm._ctx.ctx)
print(f"peak RSS {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss/1024:.0f} MB")
