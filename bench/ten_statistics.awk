# Ten statistics over the cdn format in mawk, the baseline the agent is measured against:
#   mawk -F'\t' -f bench/ten_statistics.awk access.log
{
    minute = int($1 / 60) * 60; hour = int($1 / 3600) * 3600
    k = $2 SUBSEP minute
    requests[k]++; bytes[k] += $10                                   # 1 billing
    status[k SUBSEP int($9 / 100)]++                                 # 2 status class
    cache[k SUBSEP $15]++                                            # 3 cache status
    pop_bytes[$20 SUBSEP minute] += $10                              # 4 bytes per POP
    country[$2 SUBSEP int($1 / 300) SUBSEP $18]++                    # 5 countries
    codes[$9 SUBSEP minute]++                                        # 6 status codes
    tls[$21 SUBSEP hour]++                                           # 7 TLS versions
    methods[$2 SUBSEP hour SUBSEP $5]++                              # 8 methods
    rt_sum[k] += $13; rt_count[k]++                                  # 9 request time
    urls[$2 SUBSEP hour SUBSEP $7]++                                 # 10 URLs
}
END {
    for (k in requests) n++
    print n, "customer-minutes"
}
