#!/usr/bin/env bash
# Smoke test against a running node: analyzers (whitespace, custom edge_ngram, cjk), Chinese docs,
# match query, terms aggregation, _bulk, _aliases swap, painless, _reindex. Exits non-zero on failure.
#
#   verify.sh PORT
set -euo pipefail
[ $# -eq 1 ] || { echo "usage: $0 PORT" >&2; exit 2; }
U="http://127.0.0.1:$1"
H='Content-Type: application/json'
req() { # METHOD PATH [BODY] -> prints body, fails on HTTP >= 400
    local out code
    out=$(curl -sS -w '\n%{http_code}' -X "$1" "$U$2" -H "$H" ${3:+--data-binary "$3"})
    code=${out##*$'\n'}; out=${out%$'\n'*}
    echo "$out"
    [ "$code" -lt 400 ] || { echo "HTTP $code for $1 $2" >&2; return 1; }
}
check() { # LABEL JSON PYTHON-EXPR(d)
    python3 -c 'import json,sys; d=json.loads(sys.argv[2]); ok=eval(sys.argv[3]); print(("ok   " if ok else "FAIL ")+sys.argv[1]); sys.exit(0 if ok else 1)' "$1" "$2" "$3"
}

req DELETE '/verify_*' >/dev/null 2>&1 || true
req DELETE '/_index_template/verify' >/dev/null 2>&1 || true

MAPPING='{
  "settings": {"number_of_shards": 1, "number_of_replicas": 0,
    "analysis": {
      "filter": {"prefix_ngram": {"type": "edge_ngram", "min_gram": 1, "max_gram": 15}},
      "analyzer": {"autocomplete": {"type": "custom", "tokenizer": "whitespace", "filter": ["lowercase", "prefix_ngram"]}}}},
  "mappings": {"properties": {
    "title":    {"type": "text", "analyzer": "whitespace",
                 "fields": {"cjk": {"type": "text", "analyzer": "cjk"},
                            "prefix": {"type": "text", "analyzer": "autocomplete", "search_analyzer": "whitespace"}}},
    "category": {"type": "keyword"},
    "price":    {"type": "scaled_float", "scaling_factor": 100}}}}'
req PUT /verify_v1 "$MAPPING" >/dev/null
req PUT /verify_v2 "$MAPPING" >/dev/null

r=$(req POST /verify_v1/_analyze '{"analyzer": "cjk", "text": "中宁枸杞干果"}')
check "cjk analyzer bigrams" "$r" '[t["token"] for t in d["tokens"]]==["中宁","宁枸","枸杞","杞干","干果"]'
r=$(req POST /verify_v1/_analyze '{"analyzer": "autocomplete", "text": "枸杞 Gouqi"}')
check "edge_ngram analyzer" "$r" '[t["token"] for t in d["tokens"]]==["枸","枸杞","g","go","gou","gouq","gouqi"]'

req PUT '/verify_v1/_doc/1?refresh=true' '{"title": "中宁 枸杞 干果", "category": "干果", "price": 39.9}' >/dev/null
req PUT '/verify_v1/_doc/2?refresh=true' '{"title": "宁夏 枸杞 原浆", "category": "饮品", "price": 99}' >/dev/null
req PUT '/verify_v1/_doc/3?refresh=true' '{"title": "新疆 红枣 干果", "category": "干果", "price": 25.5}' >/dev/null

r=$(req POST /verify_v1/_search '{"query": {"match": {"title": "枸杞"}}}')
check "match whitespace field" "$r" 'sorted(h["_id"] for h in d["hits"]["hits"])==["1","2"]'
r=$(req POST /verify_v1/_search '{"query": {"match": {"title.cjk": "中宁枸杞"}}}')
check "match cjk sub-field" "$r" 'd["hits"]["hits"][0]["_id"]=="1"'
r=$(req POST /verify_v1/_search '{"query": {"match": {"title.prefix": "枸"}}}')
check "match edge_ngram prefix" "$r" 'd["hits"]["total"]["value"]==2'
r=$(req POST /verify_v1/_search '{"size": 0, "aggs": {"cats": {"terms": {"field": "category"}}}}')
check "terms aggregation" "$r" '{b["key"]:b["doc_count"] for b in d["aggregations"]["cats"]["buckets"]}=={"干果":2,"饮品":1}'

BULK='{"index": {"_index": "verify_v2", "_id": "10"}}
{"title": "中宁 枸杞 礼盒", "category": "礼盒", "price": 168}
{"index": {"_index": "verify_v2", "_id": "11"}}
{"title": "宁夏 滩羊 肉", "category": "生鲜", "price": 88}
{"delete": {"_index": "verify_v1", "_id": "3"}}
'
r=$(curl -sS -X POST "$U/_bulk?refresh=true" -H 'Content-Type: application/x-ndjson' --data-binary "$BULK")
check "_bulk (2 index + 1 delete)" "$r" 'not d["errors"] and len(d["items"])==3'

req POST /_aliases '{"actions": [{"add": {"index": "verify_v1", "alias": "verify"}}]}' >/dev/null
r=$(req POST /verify/_search '{"query": {"match": {"title": "枸杞"}}}')
check "alias -> v1" "$r" 'sorted(h["_index"] for h in d["hits"]["hits"])==["verify_v1","verify_v1"]'
req POST /_aliases '{"actions": [{"remove": {"index": "verify_v1", "alias": "verify"}}, {"add": {"index": "verify_v2", "alias": "verify"}}]}' >/dev/null
r=$(req GET /_alias/verify)
check "atomic alias swap" "$r" 'list(d)==["verify_v2"]'
r=$(req POST /verify/_search '{"query": {"match": {"title": "枸杞"}}}')
check "alias -> v2" "$r" '[h["_id"] for h in d["hits"]["hits"]]==["10"]'

r=$(req POST /verify_v1/_search '{"query": {"script_score": {"query": {"match_all": {}}, "script": {"source": "doc[\"price\"].value * 2"}}}}')
check "painless script_score" "$r" 'abs(d["hits"]["hits"][0]["_score"]-198)<0.01'
r=$(req POST '/_reindex?refresh=true' '{"source": {"index": "verify_v1"}, "dest": {"index": "verify_v2"}}')
check "_reindex" "$r" 'd["created"]==2'

req DELETE '/verify_*' >/dev/null
echo "all checks passed"
