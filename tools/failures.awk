# Prints the last lines each failed test wrote to a `go test -v` log, so a failure's message
# reaches the screen (and CI's record) even when it reads like an ordinary log line: t.Errorf
# and t.Logf print alike in -v output. Usage: awk -f tools/failures.awk test.log test.log
# (two passes: the first finds the failed tests, the second keeps their lines). Tests are
# told apart by package too (two packages may have a test of the same name); a parent test
# shows only what it wrote after its last subtest began (its subtests show the rest); a test
# run out of time (panic: test timed out) is the one that was running.
BEGIN { keep = 40 }

# Each pass counts packages from the start of the log.
FNR == 1 { pkg = 0 }

# A package's result line ends its tests: the next tests are another package's.
/^(ok|FAIL)[ \t]/ { pkg++ }

NR == FNR {
	if ($0 ~ /^=== (RUN|CONT|NAME) /) running = $3
	if ($0 ~ /^ *--- FAIL: /) fail(pkg, $3)
	if ($0 ~ /^panic: test timed out/) fail(pkg, running)
	next
}

/^=== (RUN|CONT|NAME) / {
	current = pkg SUBSEP $3
	if ($2 == "RUN") {
		parent = $3
		sub(/\/[^\/]*$/, "", parent)
		if (parent != $3) count[pkg, parent] = 0
	}
	next
}
/^ *--- (PASS|FAIL|SKIP): / { next }
/^(PASS|FAIL|ok )/ { current = ""; next }
# The goroutine dump after a panic is nobody's last words (the screen shows the panic line).
/^panic: / { current = ""; next }

current in failed {
	count[current]++
	lines[current, count[current] % keep] = $0
}

END {
	for (i = 1; i <= n; i++) {
		t = order[i]
		if (!count[t]) continue
		split(t, name, SUBSEP)
		printf "\n=== the last lines of %s (all of them in test.log)\n", name[2]
		from = count[t] > keep ? count[t] - keep + 1 : 1
		for (j = from; j <= count[t]; j++) print lines[t, j % keep]
	}
}

function fail(p, test) {
	if (test == "" || ((p, test) in failed)) return
	failed[p, test] = 1
	order[++n] = p SUBSEP test
}
