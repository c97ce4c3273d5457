"""The reference search service for Ops/bench-api.sh: the usual Python stack
(sentence-transformers + psycopg + pgvector behind FastAPI on uvicorn) serving
POST /v1/search {"index", "query", "k"} -> {"results": [{"id", "score", "title"}]}
over the same PostgreSQL index that `coord api` serves.

    python api_reference.py --model models/all-MiniLM-L6-v2 --database URL \
        --table index_vectors_1 --collection 1 --ef-search 40 --port 18081
"""
import argparse
import os

import numpy as np
import uvicorn
from fastapi import FastAPI
from pgvector.psycopg import register_vector
from psycopg_pool import ConnectionPool
from pydantic import BaseModel
from sentence_transformers import SentenceTransformer

parser = argparse.ArgumentParser()
parser.add_argument("--model", required=True)
parser.add_argument("--database", required=True)
parser.add_argument("--table", required=True)
parser.add_argument("--collection", type=int, required=True)
parser.add_argument("--ef-search", type=int, default=40)
parser.add_argument("--connections", type=int, default=8)
parser.add_argument("--port", type=int, default=18081)
args = parser.parse_args()

model = SentenceTransformer(args.model, device="cpu")
query_prompt = model.prompts.get("query")


def configure(connection):
    register_vector(connection)
    connection.execute(f"SET hnsw.ef_search = {int(args.ef_search)}")
    connection.commit()


pool = ConnectionPool(args.database, min_size=args.connections, max_size=args.connections, configure=configure)
SQL = f"""
    SELECT v.doc_id, 1 - (v.embedding <=> %(q)s) AS score, d.title
    FROM (SELECT doc_id, embedding FROM {args.table} ORDER BY embedding <=> %(q)s LIMIT %(k)s) v
    JOIN documents d ON d.collection_id = %(c)s AND d.doc_id = v.doc_id
    ORDER BY v.embedding <=> %(q)s
"""

app = FastAPI()


class Search(BaseModel):
    index: str
    query: str
    k: int = 10


@app.post("/v1/search")
def search(request: Search):
    # A plain (sync) endpoint: FastAPI runs it on its thread pool; torch releases the GIL.
    vector = model.encode(request.query, prompt=query_prompt, normalize_embeddings=True).astype(np.float32)
    with pool.connection() as connection:
        rows = connection.execute(SQL, {"q": vector, "k": request.k, "c": args.collection}).fetchall()
    return {"index": request.index, "results": [{"id": r[0], "score": float(r[1]), "title": r[2]} for r in rows]}


if __name__ == "__main__":
    uvicorn.run(app, host="127.0.0.1", port=args.port, log_level="warning")
