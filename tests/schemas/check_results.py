"""Check a results file written by tools/results against the run it came from.

    python3 tests/schemas/check_results.py FORMAT FILE RUN [RUN...] [--student NAME]...

FORMAT is gradescope, classroom, junit, tap or csv; RUN a run folder of
tests/grade (results.tsv, visibility, output/N).  Each format is read the
way its consumer reads it: the JSON strictly (valid UTF-8, no duplicate
key, no lone surrogate, then the JSON Schema of ours beside this file),
the XML with expat, the TAP with Perl's TAP::Parser, the CSV with Python's
csv module.  Then every test must be there, in order, with its name,
state, points, visibility and report as the run has them (text that is
not UTF-8 decoded with U+FFFD, as the formats promise), and the totals
must add up.  Prints what is wrong and exits 1; exits 0 when all is right.
Used by tests/check.d/formats.
"""

import csv
import io
import json
import os
import subprocess
import sys
import xml.etree.ElementTree as ElementTree

import jsonschema

HERE = os.path.dirname(os.path.abspath(__file__))
TOP = os.path.dirname(os.path.dirname(HERE))
problems = []


def problem(text):
    problems.append(text)


def text_of(raw):
    """What a format promises to carry of RAW bytes: UTF-8, bad bytes U+FFFD."""
    return raw.replace(b"\0", b"").decode("utf-8", "replace")


def xml_text(text):
    """TEXT as XML 1.0 can hold it: other characters become U+FFFD."""
    def allowed(c):
        n = ord(c)
        return n in (9, 10, 13) or 0x20 <= n <= 0xD7FF or 0xE000 <= n <= 0xFFFD or n >= 0x10000
    return "".join(c if allowed(c) else "\ufffd" for c in text)


def cut(text, limit):
    return text if len(text) <= limit else text[:limit] + "\u2026 (cut)"


class Test:
    def __init__(self, fields, hidden, report):
        self.lesson, self.state, earned, most, self.name = fields
        self.earned, self.max = int(earned), int(most)
        self.hidden = hidden
        self.report = report

    def __repr__(self):
        return f"{self.lesson}: {self.name_text}"

    @property
    def name_text(self):
        return text_of(self.name)

    @property
    def report_text(self):
        return text_of(self.report)

    @property
    def head(self):
        return f"{self.state} ({self.earned}/{self.max} points"


def read_run(run):
    """The tests of RUN, as tests/grade left them."""
    tests = []
    with open(os.path.join(run, "results.tsv"), "rb") as rows:
        lines = rows.read().split(b"\n")
    try:
        with open(os.path.join(run, "visibility"), "rb") as marks:
            visibility = marks.read().split(b"\n")
    except FileNotFoundError:
        visibility = []
    for n, line in enumerate(lines[:-1], 1):
        fields = line.split(b"\t", 4)
        fields[:4] = [f.decode("ascii") for f in fields[:4]]
        hidden = n <= len(visibility) and visibility[n - 1] == b"hidden"
        try:
            with open(os.path.join(run, "output", str(n)), "rb") as report:
                text = report.read()
        except FileNotFoundError:
            text = b""
        tests.append(Test(fields, hidden, text))
    return tests


def same(what, got, want):
    if got != want:
        problem(f"{what}: got {got!r}, want {want!r}")


def strict_json(path, schema_name):
    with open(path, "rb") as f:
        raw = f.read()
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as e:
        problem(f"{path} is not UTF-8: {e}")
        return None

    def no_duplicates(pairs):
        keys = [k for k, _ in pairs]
        if len(keys) != len(set(keys)):
            problem(f"{path}: a key appears twice in one object: {keys}")
        return dict(pairs)

    try:
        document = json.loads(text, object_pairs_hook=no_duplicates)
    except ValueError as e:
        problem(f"{path} is not JSON: {e}")
        return None

    def walk(value):
        if isinstance(value, str):
            try:
                value.encode("utf-8")
            except UnicodeEncodeError:
                problem(f"{path}: a string holds a lone surrogate: {value!r}")
        elif isinstance(value, list):
            for item in value:
                walk(item)
        elif isinstance(value, dict):
            for item in value.values():
                walk(item)

    walk(document)
    with open(os.path.join(HERE, schema_name)) as f:
        schema = json.load(f)
    for error in jsonschema.Draft7Validator(schema).iter_errors(document):
        where = "/".join(str(p) for p in error.absolute_path)
        problem(f"{path}: does not match {schema_name} at /{where}: {error.message}")
    return document


def check_gradescope(path, tests):
    document = strict_json(path, "gradescope-results.schema.json")
    if document is None:
        return
    same("score", document.get("score"), sum(t.earned for t in tests))
    shown = [t for t in tests if not t.hidden]
    score_line = f"Score: {sum(t.earned for t in shown)}/{sum(t.max for t in shown)}"
    if not document.get("output", "").startswith(score_line):
        problem(f"output does not start with {score_line!r}: {document.get('output')!r}")
    got = document.get("tests", [])
    same("number of tests", len(got), len(tests))
    nth = {}
    for test, entry in zip(tests, got):
        nth[test.lesson] = nth.get(test.lesson, 0) + 1
        want = {
            "name": f"{test.lesson}: {test.name_text}" + (" (hidden)" if test.hidden else ""),
            "number": f"{int(test.lesson[:2])}.{nth[test.lesson]}",
            "score": test.earned,
            "max_score": test.max,
            "status": "passed" if test.state in ("PASS", "SKIP") else "failed",
            "output": test.head + ")" + ("\n" + test.report_text if test.report else ""),
            "tags": [test.lesson],
            "visibility": "after_published" if test.hidden else "visible",
        }
        for key, value in want.items():
            same(f"{test}: {key}", entry.get(key), value)


def check_classroom(path, tests):
    document = strict_json(path, "classroom-results.schema.json")
    if document is None:
        return
    states = {t.state for t in tests}
    if states - {"PASS", "SKIP", "ERROR"}:
        status = "fail"
    elif "ERROR" in states:
        status = "error"
    else:
        status = "pass"
    same("status", document.get("status"), status)
    same("max_score", document.get("max_score"), sum(t.max for t in tests))
    got = document.get("tests", [])
    same("number of tests", len(got), len(tests))
    same("points, as the reporter adds them up", sum(e.get("score", 0) for e in got), sum(t.earned for t in tests))
    for test, entry in zip(tests, got):
        head = test.head + (", hidden test" if test.hidden else "") + ")"
        want = {
            "name": f"{test.lesson}: {test.name_text}" + (" (hidden)" if test.hidden else ""),
            "status": "pass" if test.state in ("PASS", "SKIP") else "error" if test.state == "ERROR" else "fail",
            "score": test.earned,
            "message": head + (": " + cut(test.report_text, 400) if test.report else ""),
            "filename": f"tests/{test.lesson}.bats",
            "line_no": 0,
        }
        for key, value in want.items():
            same(f"{test}: {key}", entry.get(key), value)


def check_junit(path, tests):
    try:
        root = ElementTree.parse(path).getroot()
    except ElementTree.ParseError as e:
        problem(f"{path} is not well-formed XML: {e}")
        return
    same("root element", root.tag, "testsuites")
    kinds = {"failure": 0, "error": 0, "skipped": 0}
    for t in tests:
        kinds[kind_of(t.state)] = kinds.get(kind_of(t.state), 0) + 1
    same("testsuites tests", root.get("tests"), str(len(tests)))
    for kind, attribute in (("failure", "failures"), ("error", "errors"), ("skipped", "skipped")):
        same(f"testsuites {attribute}", root.get(attribute), str(kinds[kind]))
    cases = []
    for suite in root.findall("testsuite"):
        mine = [t for t in tests if t.lesson == suite.get("name")]
        points = {p.get("name"): p.get("value") for p in suite.findall("properties/property")}
        same(f"{suite.get('name')}: points", points.get("points"), str(sum(t.earned for t in mine)))
        same(f"{suite.get('name')}: max_points", points.get("max_points"), str(sum(t.max for t in mine)))
        same(f"{suite.get('name')}: tests", suite.get("tests"), str(len(mine)))
        cases += [(suite, case) for case in suite.findall("testcase")]
    same("number of testcases", len(cases), len(tests))
    for test, (suite, case) in zip(tests, cases):
        same(f"{test}: classname", case.get("classname"), test.lesson)
        same(f"{test}: name", case.get("name"),
             xml_text(f"{test.name_text} ({test.max} points" + (", hidden" if test.hidden else "") + ")"))
        children = list(case)
        kind = kind_of(test.state)
        if kind == "pass":
            same(f"{test}: elements in its testcase", [c.tag for c in children], [])
            continue
        same(f"{test}: elements in its testcase", [c.tag for c in children], [kind])
        if not children:
            continue
        element = children[0]
        same(f"{test}: message", element.get("message"),
             test.head + (", hidden test" if test.hidden else "") + ")")
        if kind != "skipped":
            same(f"{test}: type", element.get("type"), test.state)
        same(f"{test}: report", element.text or "", xml_text(test.report_text))


def kind_of(state):
    if state == "PASS":
        return "pass"
    if state == "SKIP":
        return "skipped"
    if state in ("BUILD ERROR", "ERROR"):
        return "error"
    return "failure"


# Perl's TAP::Parser, a line per result: type, ok, number, description,
# directive, text (each field's bytes as hex, so that any byte survives).
TAP_READER = r"""
use TAP::Parser;
my $p = TAP::Parser->new({ source => $ARGV[0] });
sub h { return unpack("H*", defined $_[0] ? $_[0] : "") }
while (my $r = $p->next) {
    if ($r->is_test) {
        print join("\t", "test", $r->is_ok ? 1 : 0, $r->number, h($r->description), h($r->directive), h($r->explanation)), "\n";
    } else {
        print join("\t", $r->type, "", "", "", "", h($r->as_string)), "\n";
    }
}
print join("\t", "end", $p->tests_planned // "", $p->tests_run, $p->version, h(join("; ", $p->parse_errors))), "\n";
"""


def tap_description(test):
    name = f"{test.lesson}: ".encode() + test.name
    name = name.replace(b"\\", b"\\\\").replace(b"#", b"\\#").replace(b"\n", b" ").replace(b"\r", b" ")
    note = ""
    if test.state not in ("PASS", "SKIP"):
        note += ", " + test.state
    if test.hidden:
        note += ", hidden"
    return b"- " + name + f" ({test.earned}/{test.max} points{note})".encode()


def check_tap(path, tests):
    lines = subprocess.run(["perl", "-e", TAP_READER, path], capture_output=True, check=True).stdout.split(b"\n")
    results = [line.split(b"\t") for line in lines if line]
    end = results.pop()
    same("TAP parse errors", bytes.fromhex(end[4].decode()), b"")
    same("TAP plan", end[1], str(len(tests)).encode())
    same("TAP tests run", end[2], str(len(tests)).encode())
    same("TAP version", end[3], b"13")
    entries = []
    for result in results:
        if result[0] == b"test":
            entries.append([result, []])
        elif result[0] == b"comment" and entries:
            entries[-1][1].append(bytes.fromhex(result[5].decode()))
        elif result[0] not in (b"version", b"plan", b"comment"):
            problem(f"TAP: a line that is not a test, comment, plan or version: {result}")
    same("number of TAP tests", len(entries), len(tests))
    for n, (test, (result, comments)) in enumerate(zip(tests, entries), 1):
        same(f"{test}: ok", result[1], b"1" if test.state in ("PASS", "SKIP") else b"0")
        same(f"{test}: number", result[2], str(n).encode())
        same(f"{test}: description", bytes.fromhex(result[3].decode()), tap_description(test))
        same(f"{test}: directive", bytes.fromhex(result[4].decode()), b"SKIP" if test.state == "SKIP" else b"")
        want = []
        if test.state != "PASS" and test.report:
            clean = bytes(b for b in test.report if b == 9 or b == 10 or (32 <= b < 127) or b >= 128)
            lines = clean.split(b"\n")
            if lines[-1] == b"":
                lines.pop()
            want = [b"# " + line for line in lines]
        if n == len(tests):
            want.append(f"# Score: {sum(t.earned for t in tests)}/{sum(t.max for t in tests)}".encode())
        same(f"{test}: comment lines", comments, want)


def student_of(run):
    """The name tools/results gives the student of RUN without -s."""
    with open(os.path.join(run, "graded"), "rb") as f:
        graded = f.read().rstrip(b"\n").rstrip(b"/")
    if graded.endswith(b"/homework"):
        graded = graded[:-len(b"/homework")]
    return os.fsdecode(graded.rsplit(b"/", 1)[-1])


def csv_guard(text):
    return "'" + text if text[:1] in ("=", "+", "-", "@", "\t", "\r") else text


def check_csv(path, runs, students):
    with open(path, "rb") as f:
        raw = f.read()
    if not raw.endswith(b"\r\n"):
        problem("CSV rows do not end in CRLF")
    rows = list(csv.reader(io.StringIO(raw.decode("utf-8", "surrogateescape"), newline="")))
    lessons = sorted(f[:-5] for f in os.listdir(os.path.join(TOP, "tests")) if f[:2].isdigit() and f.endswith(".bats"))
    same("CSV header", rows[0] if rows else None, ["student"] + lessons + ["total", "max"])
    same("CSV rows", len(rows) - 1, len(runs))
    if not students:
        students = [student_of(run) for run in runs]
    for run, student, row in zip(runs, students, rows[1:]):
        tests = read_run(run)
        want = [csv_guard(student)]
        for lesson in lessons:
            mine = [t for t in tests if t.lesson == lesson]
            want.append(str(sum(t.earned for t in mine)) if mine else "")
        want += [str(sum(t.earned for t in tests)), str(sum(t.max for t in tests))]
        same(f"CSV row of {student}", row, want)


def main(argv):
    students = []
    while "--student" in argv:
        i = argv.index("--student")
        students.append(os.fsdecode(os.fsencode(argv[i + 1])))
        del argv[i:i + 2]
    if len(argv) < 3:
        print(__doc__.split("\n\n")[1], file=sys.stderr)
        return 2
    fmt, path, runs = argv[0], argv[1], argv[2:]
    if fmt == "csv":
        check_csv(path, runs, students)
    else:
        tests = read_run(runs[0])
        {"gradescope": check_gradescope, "classroom": check_classroom, "junit": check_junit,
         "tap": check_tap}[fmt](path, tests)
    for text in problems[:40]:
        print(f"{fmt}: {text}")
    if len(problems) > 40:
        print(f"{fmt}: ... and {len(problems) - 40} more")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
