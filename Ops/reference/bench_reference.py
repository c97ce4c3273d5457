#!/usr/bin/env python3
"""Embedding throughput of the reference implementation (sentence-transformers on CPU).

Run it with the python that Ops/reference/setup.sh prints:

    PY=$(Ops/reference/setup.sh | tail -1)
    "$PY" Ops/reference/bench_reference.py --model models/all-MiniLM-L6-v2 \\
        --input ../shared/data/scifact/corpus.jsonl --json

For each batch size: one untimed warm-up encode of the first 64 texts, then one timed
encode of all N texts; the fastest batch size wins. Token counts use the model's own
tokenizer, truncated to max_seq_length, special tokens included. The model is loaded
from its folder only (the hub is never asked).
"""

import argparse
import json
import os
import sys
import time

WARMUP_TEXTS = 64


def parse_args(argv):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--model", required=True, metavar="DIR",
                   help="a sentence-transformers model folder")
    p.add_argument("--input", required=True, metavar="FILE.jsonl",
                   help='BEIR corpus: one {"_id", "title", "text"} object per line')
    p.add_argument("--limit", type=int, default=2000, metavar="N",
                   help="embed the first N documents (default 2000)")
    p.add_argument("--threads", type=int, default=2, metavar="T",
                   help="torch intra-op threads (default 2; inter-op is 1)")
    p.add_argument("--batch-sizes", default="8,16,32,64,128", metavar="LIST",
                   help="comma-separated batch sizes to try (default 8,16,32,64,128)")
    p.add_argument("--json", action="store_true",
                   help="print one JSON object on stdout; the human report goes to stderr")
    p.add_argument("--dump-embeddings", metavar="OUT.jsonl",
                   help='write {"id", "embedding"} per document (from the best batch size)')
    args = p.parse_args(argv)
    if args.limit < 1:
        p.error("--limit must be at least 1")
    if args.threads < 1:
        p.error("--threads must be at least 1")
    args.batch_sizes = parse_batch_sizes(p, args.batch_sizes)
    check_paths(p, args)
    return args


def parse_batch_sizes(parser, text):
    """--batch-sizes as a list of positive integers (argparse's usage error otherwise)."""
    try:
        sizes = [int(s) for s in text.split(",") if s.strip()]
    except ValueError:
        parser.error(f"--batch-sizes: not a comma-separated list of integers: {text!r}")
    if not sizes or any(b < 1 for b in sizes):
        parser.error("--batch-sizes: need at least one batch size, each at least 1")
    return sizes


def check_paths(parser, args):
    """--model must be a folder and --input a file (argparse's usage error otherwise)."""
    if not os.path.isdir(args.model):
        parser.error(f"--model: {args.model} is not a folder")
    if not os.path.isfile(args.input):
        parser.error(f"--input: {args.input} is not a file")


def read_corpus(path, limit):
    """The first `limit` documents of a BEIR corpus as (ids, texts)."""
    ids, texts = [], []
    with open(path, encoding="utf-8") as f:
        for lineno, line in enumerate(f, 1):
            if len(ids) >= limit:
                break
            if not line.strip():
                continue
            try:
                doc = json.loads(line)
            except json.JSONDecodeError as e:
                sys.exit(f"{path}:{lineno}: not JSON: {e}")
            if not isinstance(doc, dict) or "_id" not in doc or not isinstance(doc.get("text"), str):
                sys.exit(f'{path}:{lineno}: need an object with "_id" and a string "text"')
            title, text = doc.get("title"), doc["text"]
            ids.append(doc["_id"])
            texts.append((title + " " + text) if title else text)
    return ids, texts


def offline_with_threads(threads):
    """Before importing torch / transformers: local files only, and thread pools sized by
    --threads from the start (the tokenizers' Rust pool too)."""
    os.environ["HF_HUB_OFFLINE"] = "1"
    os.environ["TRANSFORMERS_OFFLINE"] = "1"
    os.environ["OMP_NUM_THREADS"] = str(threads)
    os.environ.setdefault("RAYON_NUM_THREADS", str(threads))


def sweep_batch_sizes(encode, texts, batch_sizes, out, label=""):
    """For each batch size, encode(texts[:64], bs) untimed, then encode(texts, bs) timed.

    Returns ({batch size: docs/s}, (docs/s, batch size, seconds, result) of the fastest).
    """
    by_batch, best = {}, None
    for bs in batch_sizes:
        encode(texts[:WARMUP_TEXTS], bs)
        t0 = time.perf_counter()
        result = encode(texts, bs)
        seconds = time.perf_counter() - t0
        docs_per_s = len(texts) / seconds
        by_batch[str(bs)] = round(docs_per_s, 2)
        print(f"  {label}batch {bs:4d}: {docs_per_s:9.1f} docs/s  ({seconds:.2f} s)", file=out)
        if best is None or docs_per_s > best[0]:
            best = (docs_per_s, bs, seconds, result)
    return by_batch, best


def main(argv):
    args = parse_args(argv)
    out = sys.stderr if args.json else sys.stdout

    offline_with_threads(args.threads)

    import sentence_transformers
    import torch
    import transformers
    from sentence_transformers import SentenceTransformer

    torch.set_num_threads(args.threads)
    torch.set_num_interop_threads(1)

    ids, texts = read_corpus(args.input, args.limit)
    if not texts:
        sys.exit(f"{args.input}: no documents")
    if len(texts) < args.limit:
        print(f"note: {args.input} has only {len(texts)} documents (--limit {args.limit})", file=out)

    model = SentenceTransformer(args.model, device="cpu", local_files_only=True)
    max_seq_length = model.max_seq_length
    enc = model.tokenizer(texts, truncation=True, max_length=max_seq_length,
                          add_special_tokens=True)
    tokens = sum(len(x) for x in enc["input_ids"])

    print(f"model {args.model}: max_seq_length {max_seq_length}; {len(texts)} docs, "
          f"{tokens} tokens; torch {torch.__version__} ({torch.backends.cpu.get_cpu_capability()}), "
          f"{args.threads} threads", file=out)

    by_batch, (docs_per_s, best_bs, seconds, emb) = sweep_batch_sizes(
        lambda batch, bs: model.encode(batch, batch_size=bs, convert_to_numpy=True, normalize_embeddings=False),
        texts, args.batch_sizes, out)
    tokens_per_s = tokens / seconds
    print(f"best: batch {best_bs}, {docs_per_s:.1f} docs/s, {tokens_per_s:.0f} tokens/s", file=out)

    if args.dump_embeddings:
        with open(args.dump_embeddings, "w", encoding="utf-8") as f:
            for doc_id, vec in zip(ids, emb):
                f.write(json.dumps({"id": doc_id, "embedding": vec.tolist()}) + "\n")
        print(f"wrote {len(ids)} embeddings to {args.dump_embeddings}", file=out)

    if args.json:
        print(json.dumps({
            "implementation": "sentence-transformers",
            "versions": {
                "torch": torch.__version__,
                "sentence_transformers": sentence_transformers.__version__,
                "transformers": transformers.__version__,
            },
            "cpu_capability": torch.backends.cpu.get_cpu_capability(),
            "threads": args.threads,
            "docs": len(texts),
            "max_seq_length": max_seq_length,
            "best_batch_size": best_bs,
            "docs_per_s": round(docs_per_s, 2),
            "tokens_per_s": round(tokens_per_s, 1),
            "by_batch_size": by_batch,
        }))


if __name__ == "__main__":
    main(sys.argv[1:])
