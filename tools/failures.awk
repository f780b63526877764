# Prints the last lines each failed test wrote to a `go test -v` log, so a failure's message
# reaches the screen (and CI's record) even when it reads like an ordinary log line: t.Errorf
# and t.Logf print alike in -v output. Usage: awk -f tools/failures.awk test.log test.log
# (two passes: the first finds the failed tests, the second keeps their lines).
BEGIN { keep = 40 }

NR == FNR {
	if ($0 ~ /^ *--- FAIL: /) {
		failed[$3] = 1
		order[++n] = $3
	}
	next
}

# A test's lines follow its "=== RUN", or "=== CONT"/"=== NAME" when output switches back to it.
/^=== (RUN|CONT|NAME) / { current = $3; next }
/^ *--- (PASS|FAIL|SKIP): / { next }
/^(PASS|FAIL|ok )/ { current = ""; next }

current in failed {
	count[current]++
	lines[current, count[current] % keep] = $0
}

END {
	for (i = 1; i <= n; i++) {
		t = order[i]
		if (!(t in count) || hasFailedSubtest(t)) continue
		printf "\n=== the last lines of %s (all of them in test.log)\n", t
		from = count[t] > keep ? count[t] - keep + 1 : 1
		for (j = from; j <= count[t]; j++) print lines[t, j % keep]
	}
}

# A parent that failed through a subtest: the subtest's lines say why.
function hasFailedSubtest(t,    u) {
	for (u in failed) if (index(u, t "/") == 1) return 1
	return 0
}
