#!/usr/bin/env python3
"""Writes a sentence-transformers model folder with Qwen3-Embedding-0.6B's shape and random weights.

Run it with the python that Ops/reference/setup.sh prints:

    PY=$(Ops/reference/setup.sh | tail -1)
    "$PY" Ops/reference/make_decoder_model.py --out .cache/bench/qwen3-0.6b-shape \\
        --tokenizer ../shared/fixtures/tiny-qwen3-embedding

The real weights are not reachable here, and a speed benchmark does not need them: the shape
decides the work. Hidden size 1024, 28 layers, 16 query heads sharing 8 key/value heads, head
size 128, MLP 3072, q/k norms, RoPE theta 1e6 (as Qwen3-Embedding-0.6B's config.json has them);
weights drawn from a fixed seed (normal, std 0.02, Qwen3's initializer_range; norm weights near 1)
and stored as BF16 safetensors. The tokenizer is the tiny fixture's byte-level BPE (3,000 tokens,
trained on SciFact), so the embedding table is 3,000 rows instead of 151,669: a lookup either way.
Last-token pooling, normalised, with Qwen3-Embedding's query instruction prompt.
"""

import argparse
import json
import os
import shutil
import sys


def parse_args(argv):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--out", required=True, metavar="DIR", help="the model folder to write (replaced)")
    p.add_argument("--tokenizer", required=True, metavar="DIR",
                   help="a folder with tokenizer.json and tokenizer_config.json (byte-level BPE)")
    p.add_argument("--max-seq-length", type=int, default=128, metavar="N",
                   help="sentence_bert_config.json's max_seq_length (default 128)")
    p.add_argument("--layers", type=int, default=28, metavar="N", help="decoder layers (default 28)")
    p.add_argument("--seed", type=int, default=0, metavar="S", help="torch seed (default 0)")
    args = p.parse_args(argv)
    for name in ("tokenizer.json", "tokenizer_config.json"):
        if not os.path.isfile(os.path.join(args.tokenizer, name)):
            p.error(f"--tokenizer: {args.tokenizer} has no {name}")
    if args.max_seq_length < 2 or args.layers < 1:
        p.error("--max-seq-length must be at least 2 and --layers at least 1")
    return args


def main(argv):
    args = parse_args(argv)
    import torch
    from safetensors.torch import save_file
    from transformers import Qwen3Config, Qwen3Model

    torch.manual_seed(args.seed)
    vocab = json.load(open(os.path.join(args.tokenizer, "tokenizer.json"), encoding="utf-8"))
    added = vocab.get("added_tokens", [])
    vocab_size = max([*vocab["model"]["vocab"].values(), *(t["id"] for t in added)]) + 1
    eos = next(t["id"] for t in added if t["content"] == "<|endoftext|>")
    config = Qwen3Config(
        vocab_size=vocab_size, hidden_size=1024, intermediate_size=3072, num_hidden_layers=args.layers,
        num_attention_heads=16, num_key_value_heads=8, head_dim=128, max_position_embeddings=32768,
        rope_theta=1000000.0, rms_norm_eps=1e-6, tie_word_embeddings=False, eos_token_id=eos,
        pad_token_id=eos, bos_token_id=None,
    )
    model = Qwen3Model(config).eval()
    with torch.no_grad():
        for name, p in model.named_parameters():
            if p.dim() > 1:
                p.normal_(0, 0.02)
            elif "norm" in name:
                p.copy_(1.0 + 0.05 * torch.randn_like(p))
    model = model.to(torch.bfloat16)

    out = args.out
    if os.path.isdir(out):
        shutil.rmtree(out)
    os.makedirs(os.path.join(out, "1_Pooling"))
    config.architectures = ["Qwen3Model"]
    config.dtype = "bfloat16"
    config.save_pretrained(out)
    save_file({k: v.contiguous() for k, v in model.state_dict().items()}, os.path.join(out, "model.safetensors"),
              metadata={"format": "pt"})
    shutil.copy(os.path.join(args.tokenizer, "tokenizer.json"), out)
    tokenizer_config = json.load(open(os.path.join(args.tokenizer, "tokenizer_config.json"), encoding="utf-8"))
    tokenizer_config["model_max_length"] = args.max_seq_length
    json.dump(tokenizer_config, open(os.path.join(out, "tokenizer_config.json"), "w"), indent=2)
    json.dump({"max_seq_length": args.max_seq_length}, open(os.path.join(out, "sentence_bert_config.json"), "w"))
    json.dump({"word_embedding_dimension": 1024, "pooling_mode_lasttoken": True, "pooling_mode_mean_tokens": False,
               "pooling_mode_cls_token": False, "include_prompt": True},
              open(os.path.join(out, "1_Pooling", "config.json"), "w"), indent=2)
    json.dump([{"idx": 0, "name": "0", "path": "", "type": "sentence_transformers.models.Transformer"},
               {"idx": 1, "name": "1", "path": "1_Pooling", "type": "sentence_transformers.models.Pooling"},
               {"idx": 2, "name": "2", "path": "2_Normalize", "type": "sentence_transformers.models.Normalize"}],
              open(os.path.join(out, "modules.json"), "w"), indent=2)
    json.dump({"prompts": {"query": "Instruct: Given a web search query, retrieve relevant passages that answer "
                                    "the query\nQuery:", "document": ""},
               "default_prompt_name": None, "similarity_fn_name": "cosine"},
              open(os.path.join(out, "config_sentence_transformers.json"), "w"), indent=2)
    parameters = sum(p.numel() for p in model.parameters())
    print(f"{out}: qwen3, {args.layers} layers, hidden 1024, {parameters / 1e6:.0f}M parameters, BF16, "
          f"vocabulary {vocab_size}, max_seq_length {args.max_seq_length}, seed {args.seed}", file=sys.stderr)


if __name__ == "__main__":
    main(sys.argv[1:])
