# mkskel-gen.awk: one random solution-like C file for tests/fuzz/mkskel-props,
# with what tools/mkskel must make of it.
#
#   awk -v seed=N -v dir=DIR -f mkskel-gen.awk
#
# writes DIR/in.c (the file), DIR/skel (its skeleton) and DIR/clean (its
# clean copy), built from the parts it chose, not by parsing, and prints
# "ok" for a well-formed file or "error LINE WHAT" for one broken on
# purpose (mkskel must then fail and name in.c:LINE).
#
# The file: top-level lines, functions (headers on one line or several,
# parameters of many shapes), SOLUTION regions in function bodies (with
# or without a stub argument, at any indentation, with //: stub lines of
# every shape) and around whole functions, $begin/$end excerpt markers
# anywhere.  A broken one has one of: a region inside a region, an END
# without BEGIN, a region never ended, a //: line outside a region, an
# unknown stub argument, a stub argument outside any function.

function rnd(n) { return int(rand() * n) }
function pick(list,    a, n) { n = split(list, a, "|"); return a[1 + rnd(n)] }

# add(LINE, SKEL, IN_CLEAN): one input line; SKEL is what the skeleton
# holds for it (lines joined by "\n"; NONE for nothing).
function add(line, skel, in_clean) {
	n++
	in_line[n] = line
	sk[n] = skel
	cl[n] = in_clean
	reg[n] = region
	kind[n] = ""
}

function code(line) { add(line, line, 1) }
function dropped(line) { add(line, NONE, 1) }   # inside a region
function marker(line) { add(line, NONE, 0) }

function blanks() { return pick("| |\t| \t") }  # trailing white space a marker may have

function excerpt(indent) {
	marker(indent "/* $" pick("begin|end") " " pick("main|serve_loop|x-1|A_b") " */" (rnd(4) ? "" : blanks()))
}

function top_level_line() {
	return pick("#include <stdio.h>|static int counter;|struct point { int x, y; };|/* a comment (with parentheses) */| * a comment line||#define MAX(a, b) ((a) > (b) ? (a) : (b))|typedef int (*handler)(int);|int prototype(int a, char *b);|}|static char buffer[64];")
}

function body_line(indent) {
	return indent pick("x = f(a, b);|return 0;|if (n > 0)|\tcontinue;|char msg[80] = \"a: b (c)\";|// a C99 comment|/* a comment */|n++;|p = strchr(s, ':');|")
}

# A parameter list of K parameters: declarations in decl[], names in names
# ("\n" after each, as the (void) lines need them).
function params(k,    pool, a, i, j, used, d, m) {
	m = split("int fd|const char *msg|size_t len|char buf[64]|char out[NET_ADDRSTRLEN]|struct sockaddr *addr|void (*callback)(int, void *)|int (*cmp)(const void *, const void *)|unsigned long count|const struct client *self|socklen_t *lenp|int argc|char *argv[]|const uint8_t *data", pool, "|")
	names = ""
	for (i = 1; i <= k; i++) {
		do j = 1 + rnd(m); while (j in used)
		used[j] = 1
		decl[i] = pool[j]
		d = pool[j]
		if (d ~ /\(\*/) { sub(/^[^(]*\(\*/, "", d); sub(/\).*/, "", d) }
		else { sub(/\[.*/, "", d); sub(/^.*[ *]/, "", d) }
		names = names d "\n"
	}
}

# A function header, on one line or several; sets names.
function header(    k, i, line, name, type, variadic) {
	k = rnd(5)
	params(k)
	name = pick("serve|read_client|f|net_send_all|x2")
	type = pick("int |static int |static void |void |size_t |static const char *|struct client *")
	variadic = k > 0 && rnd(5) == 0
	if (rnd(4) == 0) {
		code(type)  # the type on a line of its own, as BSD style has it
		type = ""
	}
	line = type name "("
	if (k == 0)
		line = line pick("void|")
	for (i = 1; i <= k; i++) {
		line = line decl[i]
		if (i < k || variadic) {
			line = line ","
			if (rnd(3) == 0) { code(line); line = pick("\t\t|    |\t") } else line = line " "
		}
	}
	if (variadic) line = line "..."
	code(line ")")
}

# A stub line (//:) at INDENT, and what the skeleton makes of it.
function stub_line(indent,    form, text) {
	text = pick("/* TODO: send(2) all of it. */|(void)helper;|* with EINTR (then again).|x = 1; // a note|//: twice")
	form = rnd(6)
	if (form == 0) add(indent "//:", "", 0)
	else if (form == 1) add(indent "//: ", "", 0)
	else if (form == 2) add(indent "//:" text, indent text, 0)
	else if (form == 3) add(indent "//:  " text, indent " " text, 0)
	else add(indent "//: " text, indent text, 0)
}

# A region at INDENT; STUB_OK: a stub argument is allowed (in a function).
function solution_region(indent, stub_ok,    stub, i, k, out, w, nw) {
	stub = stub_ok && rnd(3) ? pick("void|return -1|return 0|return NULL|return -1 ENOSYS|return 0 EINVAL|exit 1|exit 2") : ""
	regions++
	region = regions
	begin_at[regions] = n + 1
	marker(indent "/* BEGIN SOLUTION" (stub != "" ? ": " stub : "") " */" (rnd(4) ? "" : blanks()))
	k = rnd(4)
	for (i = 0; i < k; i++) stub_line(indent)
	k = rnd(5)
	for (i = 0; i < k; i++) {
		if (rnd(5) == 0) excerpt(indent)
		else if (rnd(4) == 0) stub_line(indent)
		else dropped(body_line(indent))
	}
	out = NONE
	if (stub != "") {
		out = ""
		k = split(names, w, "\n")
		for (i = 1; i < k; i++) out = out indent "(void)" w[i] ";\n"
		nw = split(stub, w, " ")
		if (w[1] == "exit") out = out indent "exit(" w[2] ");\n"
		if (w[1] == "return") {
			if (nw == 3) out = out indent "errno = " w[3] ";\n"
			out = out indent "return " w[2] ";\n"
		}
		if (out == "") out = EMPTY
		else out = substr(out, 1, length(out) - 1)
	}
	region = 0
	marker(indent "/* END SOLUTION */" (rnd(4) ? "" : blanks()))
	end_at[regions] = n
	sk[n] = out
}

function function_def(    k, i, indent) {
	header()
	code("{")
	k = rnd(4)
	for (i = 0; i < k; i++) {
		indent = pick("\t|\t\t|    |  \t")
		if (rnd(3) == 0) solution_region(indent, 1)
		else if (rnd(5) == 0) excerpt(indent)
		else code(body_line(indent))
	}
	code("}")
}

# A whole function inside a region: the skeleton keeps its stub lines only.
function region_around_function(    k, i) {
	regions++
	region = regions
	begin_at[regions] = n + 1
	marker("/* BEGIN SOLUTION */")
	k = rnd(3)
	for (i = 0; i < k; i++) stub_line("")
	dropped(pick("static int helper(int a)|void g(void)|int h(int a,"))
	dropped("{")
	dropped("\treturn a;")
	dropped("}")
	region = 0
	marker("/* END SOLUTION */")
	end_at[regions] = n
}

# Insert line LINE before input line AT (all later lines move down).
function insert(at, line,    i) {
	for (i = n; i >= at; i--) {
		in_line[i + 1] = in_line[i]; sk[i + 1] = sk[i]; cl[i + 1] = cl[i]; reg[i + 1] = reg[i]
	}
	n++
	in_line[at] = line; sk[at] = NONE; cl[at] = 0; reg[at] = 0
}

function delete_line(at,    i) {
	for (i = at; i < n; i++) {
		in_line[i] = in_line[i + 1]; sk[i] = sk[i + 1]; cl[i] = cl[i + 1]; reg[i] = reg[i + 1]
	}
	n--
}

# A place between top-level lines, outside every region (and before the
# first region with a stub, if FIRST): the line number to insert before.
function outside(    at, tries) {
	for (tries = 0; tries < 50; tries++) {
		at = 1 + rnd(n + 1)
		if (at == 1 || reg[at - 1] == 0 || (at - 1) in is_end)
			if (at > n || reg[at] == 0 || at in is_begin)
				return at
	}
	return n + 1
}

BEGIN {
	NONE = "\001"
	EMPTY = "\002"
	srand(seed)
	n = 0
	regions = 0
	region = 0
	code("/*")
	code(" * a solution file")
	code(" */")
	k = 1 + rnd(6)
	for (part = 0; part < k; part++) {
		r = rnd(10)
		if (r < 5) function_def()
		else if (r < 6) region_around_function()
		else if (r < 7) excerpt(pick("|\t"))
		else code(top_level_line())
	}
	for (i = 1; i <= regions; i++) { is_begin[begin_at[i]] = 1; is_end[end_at[i]] = 1 }

	verdict = "ok"
	if (rnd(3) == 0) {
		what = rnd(regions > 0 ? 7 : 3)
		if (what == 0) {
			at = outside()
			insert(at, pick("|\t") "/* END SOLUTION */")
			verdict = "error " at " END without BEGIN"
		} else if (what == 1) {
			at = outside()
			insert(at, pick("|\t|    ") "//:" pick("| x| TODO"))
			verdict = "error " at " stub line outside a region"
		} else if (what == 2) {
			# Before every function, or after the last one's closing
			# brace: no enclosing function.
			at = rnd(2) ? 1 : n + 1
			insert(at, "/* END SOLUTION */")
			insert(at, "/* BEGIN SOLUTION: " pick("void|return -1|exit 1") " */")
			verdict = "error " at " stub outside a function"
		} else {
			r = 1 + rnd(regions)
			b = begin_at[r]
			match(in_line[b], /^[ \t]*/)
			indent = substr(in_line[b], 1, RLENGTH)
			if (what == 3) {
				insert(b + 1, indent "/* BEGIN SOLUTION */")
				verdict = "error " (b + 1) " region inside a region"
			} else if (what == 4) {
				in_line[b] = indent "/* BEGIN SOLUTION: " pick("return|exit x|return -1 enosys|abort| void|return -1 ENOSYS extra|void x|exit -1|return\t-1") " */"
				verdict = "error " b " unknown stub"
			} else {
				r = regions
				delete_line(end_at[r])
				verdict = "error " begin_at[r] " region never ended"
			}
		}
	}

	for (i = 1; i <= n; i++) {
		print in_line[i] > (dir "/in.c")
		if (sk[i] == EMPTY) ;
		else if (sk[i] != NONE) print sk[i] > (dir "/skel")
		if (cl[i]) print in_line[i] > (dir "/clean")
	}
	printf "" >> (dir "/skel")
	printf "" >> (dir "/clean")
	print verdict
}
