# Ten statistics over the cdn format in mawk, the baseline the agent is measured against:
#   mawk -F'\t' -f bench/ten_statistics.awk access.log
# Each statistic is printed as tab-separated rows "NAME KEY... VALUE..." (the URLs only as their
# number of keys: the agent's top_urls is a sampled top-N, not comparable line by line).
{
    minute = int($1 / 60) * 60; hour = int($1 / 3600) * 3600
    k = $2 SUBSEP minute
    requests[k]++; bytes[k] += $10                                   # 1 billing
    status[k SUBSEP int($9 / 100)]++                                 # 2 status class
    cache[k SUBSEP $15]++                                            # 3 cache status
    pop_bytes[$20 SUBSEP minute] += $10                              # 4 bytes per POP
    country[$2 SUBSEP int($1 / 300) * 300 SUBSEP $18]++              # 5 countries
    codes[$9 SUBSEP minute]++                                        # 6 status codes
    tls[$21 SUBSEP hour]++                                           # 7 TLS versions
    methods[$2 SUBSEP hour SUBSEP $5]++                              # 8 methods
    rt_sum[k] += $13; rt_count[k]++                                  # 9 request time
    urls[$2 SUBSEP hour SUBSEP $7]++                                 # 10 URLs
}
function keys(key,    row) {
    row = key
    gsub(SUBSEP, "\t", row)
    return row
}
function show(name, table,    key) {
    for (key in table) print name "\t" keys(key) "\t" table[key]
}
function show2(name, table, second,    key) {
    for (key in table) print name "\t" keys(key) "\t" table[key] "\t" second[key]
}
END {
    OFMT = CONVFMT = "%.3f"  # sums beyond 2^31 print as "N.000" either way
    show2("billing", requests, bytes); show("status_class", status); show("cache", cache)
    show("pop_bytes", pop_bytes); show("country", country); show("status_code", codes); show("tls", tls)
    show("method", methods); show2("request_time", rt_sum, rt_count)
    n = 0; for (k in urls) n++
    print "urls\t" n
}
