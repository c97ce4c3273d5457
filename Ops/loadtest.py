#!/usr/bin/env python3
"""Load-test material for Driftless: a nearly free embedding model and a synthetic corpus.

    loadtest.py model OUT [--layers 1] [--hidden 32] [--seed 7]
        Writes a sentence-transformers folder the engine loads like any other model:
        BERT architecture with all-MiniLM-L6-v2's tokenizer and vocabulary (copied from
        --tokenizer-from), `--layers` layers of width `--hidden`, weights drawn from a
        fixed seed, F32 safetensors, modules.json with mean pooling and normalisation.
        Idempotent: an existing folder with the same parameters is left alone.

    loadtest.py corpus OUT --documents N [--seed 7] [--from corpus.jsonl ...]
        Streams N documents to OUT (JSONL, `_id`, `title`, `text`, metadata): sentences of
        the source corpora recombined, lengths drawn from the sources' own length
        distribution, ids unique (`syn-<seed>-<n>`), seeded. Memory holds the sentence
        pool only, never the output.

Pure Python (no numpy): runs wherever the models' own installer runs.
"""

import argparse
import array
import json
import math
import os
import random
import re
import shutil
import struct
import sys
import time

TOKENIZER_FILES = [
    "vocab.txt",
    "tokenizer.json",
    "tokenizer_config.json",
    "special_tokens_map.json",
]


def write_safetensors(path, tensors):
    """tensors: list of (name, shape, array('f')) — written as F32, names sorted."""
    header = {"__metadata__": {"format": "pt", "made_by": "Ops/loadtest.py"}}
    offset = 0
    ordered = sorted(tensors, key=lambda t: t[0])
    for name, shape, values in ordered:
        count = 1
        for dim in shape:
            count *= dim
        assert len(values) == count, (name, shape, len(values))
        header[name] = {"dtype": "F32", "shape": list(shape), "data_offsets": [offset, offset + 4 * count]}
        offset += 4 * count
    encoded = json.dumps(header, separators=(",", ":")).encode()
    encoded += b" " * ((8 - len(encoded) % 8) % 8)
    tmp = path + ".tmp"
    with open(tmp, "wb") as out:
        out.write(struct.pack("<Q", len(encoded)))
        out.write(encoded)
        for _, _, values in ordered:
            if sys.byteorder != "little":
                values = array.array("f", values)
                values.byteswap()
            values.tofile(out)
    os.replace(tmp, path)


def make_model(args):
    source = args.tokenizer_from
    for name in TOKENIZER_FILES:
        if not os.path.isfile(os.path.join(source, name)):
            sys.exit(f"loadtest.py: {source} lacks {name} (run Ops/install-models.sh first)")
    vocab_size = sum(1 for _ in open(os.path.join(source, "vocab.txt"), encoding="utf-8"))
    hidden, layers, heads = args.hidden, args.layers, args.heads
    if hidden % heads != 0:
        sys.exit(f"loadtest.py: --hidden {hidden} is not a multiple of --heads {heads}")
    intermediate = 4 * hidden
    stamp = {"layers": layers, "hidden": hidden, "heads": heads, "seed": args.seed,
             "max_seq_length": args.max_seq_length, "vocab_size": vocab_size}
    stamp_path = os.path.join(args.out, "loadtest.json")
    if os.path.isfile(stamp_path) and json.load(open(stamp_path)) == stamp \
            and os.path.isfile(os.path.join(args.out, "model.safetensors")):
        print(f"loadtest.py: {args.out} is up to date", file=sys.stderr)
        return
    os.makedirs(os.path.join(args.out, "1_Pooling"), exist_ok=True)
    rng = random.Random(args.seed)

    def normal(count, std):
        return array.array("f", (rng.gauss(0.0, std) for _ in range(count)))

    def const(count, value):
        return array.array("f", [value]) * count

    tensors = [
        ("embeddings.word_embeddings.weight", (vocab_size, hidden), normal(vocab_size * hidden, 0.5)),
        ("embeddings.position_embeddings.weight", (512, hidden), normal(512 * hidden, 0.02)),
        ("embeddings.token_type_embeddings.weight", (2, hidden), normal(2 * hidden, 0.02)),
        ("embeddings.LayerNorm.weight", (hidden,), const(hidden, 1.0)),
        ("embeddings.LayerNorm.bias", (hidden,), const(hidden, 0.0)),
    ]
    std = 1.0 / math.sqrt(hidden)
    for layer in range(layers):
        prefix = f"encoder.layer.{layer}."
        for part in ["query", "key", "value"]:
            tensors.append((prefix + f"attention.self.{part}.weight", (hidden, hidden), normal(hidden * hidden, std)))
            tensors.append((prefix + f"attention.self.{part}.bias", (hidden,), normal(hidden, 0.02)))
        tensors += [
            (prefix + "attention.output.dense.weight", (hidden, hidden), normal(hidden * hidden, std)),
            (prefix + "attention.output.dense.bias", (hidden,), normal(hidden, 0.02)),
            (prefix + "attention.output.LayerNorm.weight", (hidden,), const(hidden, 1.0)),
            (prefix + "attention.output.LayerNorm.bias", (hidden,), const(hidden, 0.0)),
            (prefix + "intermediate.dense.weight", (intermediate, hidden), normal(intermediate * hidden, std)),
            (prefix + "intermediate.dense.bias", (intermediate,), normal(intermediate, 0.02)),
            (prefix + "output.dense.weight", (hidden, intermediate),
             normal(hidden * intermediate, 1.0 / math.sqrt(intermediate))),
            (prefix + "output.dense.bias", (hidden,), normal(hidden, 0.02)),
            (prefix + "output.LayerNorm.weight", (hidden,), const(hidden, 1.0)),
            (prefix + "output.LayerNorm.bias", (hidden,), const(hidden, 0.0)),
        ]
    write_safetensors(os.path.join(args.out, "model.safetensors"), tensors)
    for name in TOKENIZER_FILES:
        shutil.copyfile(os.path.join(source, name), os.path.join(args.out, name))

    def dump(name, value):
        with open(os.path.join(args.out, name), "w") as out:
            json.dump(value, out, indent=2)
            out.write("\n")

    dump("config.json", {
        "architectures": ["BertModel"], "model_type": "bert", "hidden_act": "gelu",
        "hidden_size": hidden, "intermediate_size": intermediate, "num_attention_heads": heads,
        "num_hidden_layers": layers, "max_position_embeddings": 512, "type_vocab_size": 2,
        "vocab_size": vocab_size, "layer_norm_eps": 1e-12, "pad_token_id": 0,
        "position_embedding_type": "absolute",
    })
    dump("modules.json", [
        {"idx": 0, "name": "0", "path": "", "type": "sentence_transformers.models.Transformer"},
        {"idx": 1, "name": "1", "path": "1_Pooling", "type": "sentence_transformers.models.Pooling"},
        {"idx": 2, "name": "2", "path": "2_Normalize", "type": "sentence_transformers.models.Normalize"},
    ])
    dump("1_Pooling/config.json", {
        "word_embedding_dimension": hidden, "pooling_mode_cls_token": False,
        "pooling_mode_mean_tokens": True, "pooling_mode_max_tokens": False,
        "pooling_mode_mean_sqrt_len_tokens": False,
    })
    dump("sentence_bert_config.json", {"max_seq_length": args.max_seq_length, "do_lower_case": False})
    dump("config_sentence_transformers.json", {"prompts": {}, "default_prompt_name": None})
    with open(os.path.join(args.out, "README.md"), "w") as out:
        out.write("# driftless load-test model\n\nRandom weights (seed %d), %d layer(s) of width %d: "
                  "nearly free to run, meaningless to search. Made by Ops/loadtest.py for "
                  "measuring the pipeline, never for retrieval.\n" % (args.seed, layers, hidden))
    dump("loadtest.json", stamp)
    print(f"loadtest.py: wrote {args.out} ({layers} layer(s), hidden {hidden}, vocabulary {vocab_size})",
          file=sys.stderr)


SENTENCE_END = re.compile(r"(?<=[.!?])\s+(?=[A-Z0-9(])")


def make_corpus(args):
    sentences, lengths, titles = [], [], []
    for source in args.sources:
        with open(source, encoding="utf-8") as lines:
            for line in lines:
                record = json.loads(line)
                parts = [p for p in SENTENCE_END.split(record.get("text", "")) if p]
                if not parts:
                    continue
                sentences.extend(parts)
                lengths.append(len(parts))
                if record.get("title"):
                    titles.append(record["title"])
    if not sentences:
        sys.exit("loadtest.py: the source corpora hold no sentences")
    rng = random.Random(args.seed)
    tags = ["biology", "medicine", "genetics", "oncology", "immunology", "neuroscience", "epidemiology"]
    started = time.monotonic()
    tmp = args.out + ".tmp"
    with open(tmp, "w", encoding="utf-8", buffering=1 << 20) as out:
        for n in range(args.documents):
            count = rng.choice(lengths)
            text = " ".join(rng.choice(sentences) for _ in range(count))
            record = {
                "_id": f"syn-{args.seed}-{n}",
                "title": rng.choice(titles) if titles else "",
                "text": text,
                "year": 1990 + rng.randrange(36),
                "tags": rng.sample(tags, 1 + rng.randrange(3)),
                "source": "synthetic",
            }
            out.write(json.dumps(record, ensure_ascii=False, separators=(",", ":")))
            out.write("\n")
            if args.progress and (n + 1) % 100_000 == 0:
                rate = (n + 1) / max(time.monotonic() - started, 1e-9)
                print(f"loadtest.py: {n + 1:,}/{args.documents:,} documents ({rate:,.0f}/s)", file=sys.stderr)
    os.replace(tmp, args.out)
    print(f"loadtest.py: wrote {args.documents:,} documents to {args.out} "
          f"({os.path.getsize(args.out) / 1e6:,.1f} MB, {len(sentences):,} source sentences)", file=sys.stderr)


def main():
    here = os.path.dirname(os.path.abspath(__file__))
    root = os.path.dirname(here)
    shared = os.environ.get("DRIFTLESS_SHARED", os.path.join(os.path.dirname(root), "shared"))
    models = os.environ.get("DRIFTLESS_MODELS", os.path.join(root, "models"))
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    commands = parser.add_subparsers(dest="command", required=True)
    model = commands.add_parser("model", help="write the load-test model folder")
    model.add_argument("out", nargs="?", default=os.path.join(models, "driftless-loadtest-tiny"))
    model.add_argument("--layers", type=int, default=1)
    model.add_argument("--hidden", type=int, default=32)
    model.add_argument("--heads", type=int, default=2)
    model.add_argument("--max-seq-length", type=int, default=32)
    model.add_argument("--seed", type=int, default=7)
    model.add_argument("--tokenizer-from", default=os.path.join(models, "all-MiniLM-L6-v2"))
    corpus = commands.add_parser("corpus", help="write a synthetic corpus")
    corpus.add_argument("out")
    corpus.add_argument("--documents", type=int, required=True)
    corpus.add_argument("--seed", type=int, default=7)
    corpus.add_argument("--from", dest="sources", nargs="+",
                        default=[os.path.join(shared, "data", "scifact", "corpus.jsonl")])
    corpus.add_argument("--progress", action="store_true")
    args = parser.parse_args()
    if args.command == "model":
        for name, value in [("--layers", args.layers), ("--hidden", args.hidden), ("--heads", args.heads)]:
            if value < 1:
                sys.exit(f"loadtest.py: {name} must be at least 1, got {value}")
        make_model(args)
    else:
        if args.documents < 1:
            sys.exit(f"loadtest.py: --documents must be at least 1, got {args.documents}")
        make_corpus(args)


if __name__ == "__main__":
    main()
