#!/usr/bin/env python3
"""Embedding throughput of a decoder-only embedder in transformers (AutoModel, CPU torch).

Run it with the python that Ops/reference/setup.sh prints:

    PY=$(Ops/reference/setup.sh | tail -1)
    "$PY" Ops/reference/bench_decoder_reference.py --model .cache/bench/qwen3-0.6b-shape \\
        --input ../shared/data/scifact/corpus.jsonl --limit 500 --dtype float32 --json

As Qwen3-Embedding's own recipe does it: each document ("title text", the model's document
prompt in front) tokenised, truncated to max_seq_length - 1, the end-of-text token appended;
batches of texts of similar length (sorted, as sentence-transformers does), left-padded with the
attention mask; the last token's hidden state, L2-normalised. Tokenisation is inside the timed
region. One untimed warm-up batch first. The model is loaded from its folder only.
"""

import argparse
import json
import os
import sys
import time

from bench_reference import check_paths, read_corpus  # the same documents, read the same way


def parse_args(argv):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--model", required=True, metavar="DIR", help="a sentence-transformers decoder model folder")
    p.add_argument("--input", required=True, metavar="FILE.jsonl", help="BEIR corpus")
    p.add_argument("--limit", type=int, default=500, metavar="N", help="the first N documents (default 500)")
    p.add_argument("--threads", type=int, default=2, metavar="T", help="torch intra-op threads (default 2)")
    p.add_argument("--batch-size", type=int, default=16, metavar="B", help="texts per forward pass (default 16)")
    p.add_argument("--dtype", choices=["float32", "bfloat16"], default="float32",
                   help="the dtype torch computes in (the weights are BF16 on disk)")
    p.add_argument("--json", action="store_true", help="one JSON object on stdout; the report goes to stderr")
    p.add_argument("--dump-embeddings", metavar="OUT.jsonl", help='write {"id", "embedding"} per document')
    args = p.parse_args(argv)
    if args.limit < 1 or args.threads < 1 or args.batch_size < 1:
        p.error("--limit, --threads and --batch-size must be at least 1")
    check_paths(p, args)
    return args


def main(argv):
    args = parse_args(argv)
    import torch
    import transformers
    from tokenizers import Tokenizer
    from transformers import AutoModel

    torch.set_num_threads(args.threads)
    torch.set_num_interop_threads(1)
    dtype = getattr(torch, args.dtype)
    model = AutoModel.from_pretrained(args.model, dtype=dtype, local_files_only=True).eval()
    tokenizer = Tokenizer.from_file(os.path.join(args.model, "tokenizer.json"))
    max_length = json.load(open(os.path.join(args.model, "sentence_bert_config.json")))["max_seq_length"]
    prompts = json.load(open(os.path.join(args.model, "config_sentence_transformers.json")))["prompts"]
    document_prompt = prompts.get("document", "")
    eos = model.config.eos_token_id
    ids, texts = read_corpus(args.input, args.limit)

    def encode(batch_texts):
        rows = [e.ids[: max_length - 1] + [eos]
                for e in tokenizer.encode_batch([document_prompt + t for t in batch_texts], add_special_tokens=False)]
        width = max(map(len, rows))
        input_ids = torch.tensor([[eos] * (width - len(r)) + r for r in rows])
        mask = torch.tensor([[0] * (width - len(r)) + [1] * len(r) for r in rows])
        with torch.inference_mode():
            hidden = model(input_ids=input_ids, attention_mask=mask).last_hidden_state[:, -1]
            vectors = torch.nn.functional.normalize(hidden.float(), dim=1)
        return vectors, sum(map(len, rows))

    encode(texts[: args.batch_size])  # warm-up, untimed
    start = time.perf_counter()
    order = sorted(range(len(texts)), key=lambda i: -len(texts[i]))
    vectors = [None] * len(texts)
    tokens = 0
    for b in range(0, len(order), args.batch_size):
        chunk = order[b: b + args.batch_size]
        out, n = encode([texts[i] for i in chunk])
        tokens += n
        for i, v in zip(chunk, out):
            vectors[i] = v
    seconds = time.perf_counter() - start
    report = {
        "documents": len(texts), "tokens": tokens, "seconds": seconds,
        "tokens_per_s": tokens / seconds, "docs_per_s": len(texts) / seconds,
        "dtype": args.dtype, "batch_size": args.batch_size, "threads": args.threads,
        "max_seq_length": max_length,
        "versions": {"torch": torch.__version__, "transformers": transformers.__version__},
        "cpu_capability": torch.backends.cpu.get_cpu_capability(),
    }
    print(f"transformers {args.dtype}: {len(texts)} docs, {tokens} tokens in {seconds:.1f} s: "
          f"{tokens / seconds:.0f} tokens/s, batch {args.batch_size}, {args.threads} threads", file=sys.stderr)
    if args.dump_embeddings:
        with open(args.dump_embeddings, "w") as f:
            for i, v in zip(ids, vectors):
                f.write(json.dumps({"id": i, "embedding": [float(x) for x in v]}) + "\n")
    if args.json:
        print(json.dumps(report))


if __name__ == "__main__":
    main(sys.argv[1:])
