"""Reference retrieval evaluation for cross-checking `coord eval`.

Two uses:

  # Score a TREC run file (as written by `coord eval --run-file`) with pytrec_eval:
  python eval_reference.py --qrels qrels/test.tsv --run run.trec

  # Query embedding latency of the reference (one query at a time, as a search service):
  python eval_reference.py --qrels qrels/test.tsv --model models/all-MiniLM-L6-v2 \
      --queries queries.jsonl --latency

  # The whole reference stack: sentence-transformers embeds the corpus and the judged
  # queries, exact cosine search (torch), top 100, scored with pytrec_eval:
  python eval_reference.py --qrels qrels/test.tsv --model models/all-MiniLM-L6-v2 \
      --corpus corpus.jsonl --queries queries.jsonl [--save-run out.trec]

Prints one JSON object with ndcg@10, recall@10, recall@100, map@100 (pytrec_eval:
ndcg_cut_10, recall_10, recall_100, map_cut_100), mrr@10 (BEIR's definition) and queries.
"""
import argparse
import csv
import json
import time

import pytrec_eval


def load_qrels(path):
    qrels = {}
    with open(path) as f:
        for row in csv.reader(f, delimiter="\t"):
            if len(row) == 4:
                row = [row[0], row[2], row[3]]
            if not row or not row[2].lstrip("-").isdigit():
                continue
            qrels.setdefault(row[0], {})[row[1]] = int(row[2])
    return qrels


def load_run(path):
    run = {}
    with open(path) as f:
        for line in f:
            query, _, doc, _, score, _ = line.split()
            run.setdefault(query, {})[doc] = float(score)
    return run


def mrr_at(run, qrels, k):
    # BEIR's evaluation.mrr: the first relevant document within the top k by score.
    total = 0.0
    for query, scores in run.items():
        if query not in qrels:
            continue
        ranked = sorted(scores.items(), key=lambda item: item[1], reverse=True)[:k]
        for rank, (doc, _) in enumerate(ranked):
            if qrels[query].get(doc, 0) > 0:
                total += 1.0 / (rank + 1)
                break
    return total / len([q for q in run if q in qrels])


def evaluate(run, qrels):
    evaluator = pytrec_eval.RelevanceEvaluator(qrels, {"ndcg_cut.10", "recall.10,100", "map_cut.100"})
    scores = evaluator.evaluate(run)
    n = len(scores)
    mean = lambda key: sum(s[key] for s in scores.values()) / n
    return {
        "ndcg@10": mean("ndcg_cut_10"), "recall@10": mean("recall_10"), "recall@100": mean("recall_100"),
        "map@100": mean("map_cut_100"), "mrr@10": mrr_at(run, qrels, 10), "queries": n,
    }


def reference_run(model_path, corpus_path, queries_path, qrels):
    import torch
    from sentence_transformers import SentenceTransformer

    model = SentenceTransformer(model_path, device="cpu")
    docs = [json.loads(line) for line in open(corpus_path) if line.strip()]
    queries = [json.loads(line) for line in open(queries_path) if line.strip()]
    queries = [q for q in queries if str(q["_id"]) in qrels]
    texts = [(d.get("title", "") + " " + d["text"]).strip() if d.get("title") else d["text"] for d in docs]
    started = time.time()
    doc_vectors = model.encode(texts, batch_size=32, convert_to_tensor=True, normalize_embeddings=True,
                               show_progress_bar=True)
    query_vectors = model.encode([q["text"] for q in queries], prompt_name="query" if "query" in model.prompts else None,
                                 batch_size=32, convert_to_tensor=True, normalize_embeddings=True)
    seconds = time.time() - started
    scores = query_vectors @ doc_vectors.T
    top = torch.topk(scores, k=100, dim=1)
    run = {}
    for row, query in enumerate(queries):
        run[str(query["_id"])] = {str(docs[i]["_id"]): float(s) for s, i in zip(top.values[row], top.indices[row])}
    return run, seconds


def query_latency(model_path, queries_path, qrels):
    from sentence_transformers import SentenceTransformer

    model = SentenceTransformer(model_path, device="cpu")
    queries = [json.loads(line) for line in open(queries_path) if line.strip()]
    texts = [q["text"] for q in queries if str(q["_id"]) in qrels]
    prompt = "query" if "query" in model.prompts else None
    model.encode(texts[:8], prompt_name=prompt)  # warm up
    seconds = []
    for text in texts:
        started = time.perf_counter()
        model.encode([text], prompt_name=prompt, normalize_embeddings=True)
        seconds.append(time.perf_counter() - started)
    seconds.sort()
    at = lambda p: seconds[min(len(seconds), max(1, -(-p * len(seconds) // 100))) - 1] * 1000
    return {"queries": len(texts), "embedding_ms": {"p50": at(50), "p99": at(99), "mean": sum(seconds) / len(seconds) * 1000}}


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--qrels", required=True)
    parser.add_argument("--run")
    parser.add_argument("--model")
    parser.add_argument("--corpus")
    parser.add_argument("--queries")
    parser.add_argument("--save-run")
    parser.add_argument("--latency", action="store_true")
    args = parser.parse_args()
    qrels = load_qrels(args.qrels)
    extra = {}
    if args.latency:
        print(json.dumps(query_latency(args.model, args.queries, qrels), indent=2, sort_keys=True))
        return
    if args.run:
        run = load_run(args.run)
    else:
        run, seconds = reference_run(args.model, args.corpus, args.queries, qrels)
        extra["embedding_seconds"] = seconds
        if args.save_run:
            with open(args.save_run, "w") as f:
                for query, docs in run.items():
                    for rank, (doc, score) in enumerate(sorted(docs.items(), key=lambda d: -d[1])):
                        f.write(f"{query} Q0 {doc} {rank + 1} {score!r} reference\n")
    print(json.dumps({**evaluate(run, qrels), **extra}, indent=2, sort_keys=True))


if __name__ == "__main__":
    main()
