#!/usr/bin/env python3
"""Embedding throughput of ONNX Runtime, float32 and int8 (dynamic quantization).

The other baseline of Ops/bench.sh, beside sentence-transformers. Run it with the python that
Ops/reference/setup.sh prints:

    PY=$(Ops/reference/setup.sh | tail -1)
    "$PY" Ops/reference/bench_onnx.py --model models/all-MiniLM-L6-v2 \\
        --input ../shared/data/scifact/corpus.jsonl --work .cache/onnx --json

Set-up, cached in --work: the model's transformer is exported with torch.onnx (input_ids and
attention_mask in, last_hidden_state out; checked against torch before use), and
onnxruntime.quantization.quantize_dynamic makes its int8 twin (int8 weights, activations
quantized at run time: what users of ONNX Runtime deploy). Then, per precision and batch size,
as sentence-transformers encodes: texts sorted by length, each batch tokenized (padded to its
longest, truncated to max_seq_length), run, mean-pooled over the mask and L2-normalised; one
untimed warm-up of the first 64 texts, then one timed pass over all of them (the sweep of
bench_reference.py). Tokenization is
timed, as it is for the others.
"""

import argparse
import contextlib
import json
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from bench_reference import check_paths, offline_with_threads, parse_batch_sizes, read_corpus, sweep_batch_sizes  # noqa: E402


def parse_args(argv):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--model", required=True, metavar="DIR", help="a sentence-transformers model folder")
    p.add_argument("--input", required=True, metavar="FILE.jsonl", help="BEIR corpus")
    p.add_argument("--limit", type=int, default=1000, metavar="N", help="the first N documents (default 1000)")
    p.add_argument("--threads", type=int, default=2, metavar="T", help="intra-op threads (default 2)")
    p.add_argument("--batch-sizes", default="16,32", metavar="LIST", help="batch sizes to try (default 16,32)")
    p.add_argument("--precisions", default="fp32,int8", metavar="LIST", help="fp32, int8 or both (default)")
    p.add_argument("--work", required=True, metavar="DIR", help="where the exported models are kept")
    p.add_argument("--json", action="store_true", help="one JSON object per precision on stdout")
    args = p.parse_args(argv)
    if args.limit < 1 or args.threads < 1:
        p.error("--limit and --threads must be at least 1")
    args.batch_sizes = parse_batch_sizes(p, args.batch_sizes)
    args.precisions = [s.strip() for s in args.precisions.split(",") if s.strip()]
    if not args.precisions or any(s not in ("fp32", "int8") for s in args.precisions):
        p.error(f"--precisions: each must be fp32 or int8 (got {args.precisions})")
    check_paths(p, args)
    return args


def max_seq_length(model_dir):
    path = os.path.join(model_dir, "sentence_bert_config.json")
    with open(path, encoding="utf-8") as f:
        return int(json.load(f)["max_seq_length"])


def check_mean_pooling(model_dir):
    path = os.path.join(model_dir, "1_Pooling", "config.json")
    with open(path, encoding="utf-8") as f:
        pooling = json.load(f)
    if not pooling.get("pooling_mode_mean_tokens"):
        sys.exit(f"{path}: this baseline pools by mean only")


def export(model_dir, work, out):
    """model.onnx (float32) and model.int8.onnx in `work`, made once per model folder."""
    import numpy as np
    import torch
    from onnxruntime.quantization import QuantType, quantize_dynamic
    from transformers import AutoModel, AutoTokenizer

    os.makedirs(work, exist_ok=True)
    fp32, int8 = os.path.join(work, "model.onnx"), os.path.join(work, "model.int8.onnx")
    stamp = os.path.join(work, "source")
    source = os.path.abspath(model_dir)
    if os.path.exists(fp32) and os.path.exists(int8) and open(stamp).read() == source:
        return fp32, int8
    print(f"exporting {model_dir} to {fp32}", file=out)
    tokenizer = AutoTokenizer.from_pretrained(model_dir, local_files_only=True)
    # Eager attention traces to plain ops (the SDPA path traces its mask wrongly here).
    model = AutoModel.from_pretrained(model_dir, local_files_only=True, attn_implementation="eager").eval()

    class LastHiddenState(torch.nn.Module):
        """The two inputs by name (positional order differs between models and versions)."""

        def __init__(self, inner):
            super().__init__()
            self.inner = inner

        def forward(self, input_ids, attention_mask):
            return self.inner(input_ids=input_ids, attention_mask=attention_mask).last_hidden_state

    sample = tokenizer(["a first text to trace", "a second, longer text to trace the export with"],
                       padding=True, return_tensors="pt")
    with torch.no_grad():
        torch.onnx.export(
            LastHiddenState(model), (sample["input_ids"], sample["attention_mask"]), fp32,
            input_names=["input_ids", "attention_mask"], output_names=["last_hidden_state"],
            dynamic_axes={"input_ids": {0: "batch", 1: "sequence"}, "attention_mask": {0: "batch", 1: "sequence"},
                          "last_hidden_state": {0: "batch", 1: "sequence"}},
            opset_version=18, dynamo=True,
        )
        expected = model(**{k: sample[k] for k in ("input_ids", "attention_mask")}).last_hidden_state.numpy()
    import onnxruntime as ort
    got = ort.InferenceSession(fp32, providers=["CPUExecutionProvider"]).run(
        None, {k: sample[k].numpy() for k in ("input_ids", "attention_mask")})[0]
    difference = float(np.abs(got - expected).max())
    if difference > 1e-3:
        sys.exit(f"{fp32}: the export differs from torch by {difference}")
    print(f"export agrees with torch (max abs difference {difference:.2e}); quantizing to {int8}", file=out)
    quantize_dynamic(fp32, int8, weight_type=QuantType.QInt8)
    with open(stamp, "w") as f:
        f.write(source)
    return fp32, int8


def encode(session, tokenizer, texts, batch_size, length):
    import numpy as np
    order = sorted(range(len(texts)), key=lambda i: -len(texts[i]))
    result = [None] * len(texts)
    for start in range(0, len(order), batch_size):
        chosen = order[start:start + batch_size]
        batch = tokenizer([texts[i] for i in chosen], padding=True, truncation=True, max_length=length,
                          return_tensors="np")
        mask = batch["attention_mask"].astype(np.int64)
        hidden = session.run(None, {"input_ids": batch["input_ids"].astype(np.int64), "attention_mask": mask})[0]
        summed = (hidden * mask[:, :, None]).sum(axis=1) / np.maximum(mask.sum(axis=1, keepdims=True), 1)
        summed /= np.maximum(np.linalg.norm(summed, axis=1, keepdims=True), 1e-12)
        for i, vector in zip(chosen, summed):
            result[i] = vector
    return result


def main(argv):
    args = parse_args(argv)
    out = sys.stderr if args.json else sys.stdout
    offline_with_threads(args.threads)
    import onnxruntime as ort
    import torch
    from transformers import AutoTokenizer

    torch.set_num_threads(args.threads)
    check_mean_pooling(args.model)
    length = max_seq_length(args.model)
    with contextlib.redirect_stdout(sys.stderr):  # the exporter reports progress on stdout
        fp32, int8 = export(args.model, args.work, out)
    tokenizer = AutoTokenizer.from_pretrained(args.model, local_files_only=True)
    _, texts = read_corpus(args.input, args.limit)
    if not texts:
        sys.exit(f"{args.input}: no documents")
    tokens = sum(len(x) for x in tokenizer(texts, truncation=True, max_length=length)["input_ids"])
    for precision in args.precisions:
        options = ort.SessionOptions()
        options.intra_op_num_threads = args.threads
        options.inter_op_num_threads = 1
        options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
        session = ort.InferenceSession(fp32 if precision == "fp32" else int8, options,
                                       providers=["CPUExecutionProvider"])
        by_batch, (docs_per_s, best_bs, seconds, _) = sweep_batch_sizes(
            lambda batch, bs: encode(session, tokenizer, batch, bs, length),
            texts, args.batch_sizes, out, label=f"onnxruntime {precision}, ")
        if args.json:
            print(json.dumps({
                "implementation": f"onnxruntime-{precision}",
                "versions": {"onnxruntime": ort.__version__, "torch": torch.__version__},
                "threads": args.threads, "docs": len(texts), "tokens": tokens, "max_seq_length": length,
                "best_batch_size": best_bs, "docs_per_s": round(docs_per_s, 2),
                "tokens_per_s": round(tokens / seconds, 1), "by_batch_size": by_batch,
            }))


if __name__ == "__main__":
    main(sys.argv[1:])
