#!/usr/bin/env python3
"""The documentation's C++ examples, compiled and run by the test suite.

Every ```cpp block of a page (README.md, docs/*.md) becomes part of one C++
file per page, compiled with the build's compiler, flags and sanitizers; each
block that is a whole program (it defines `int main(`) is then run as its own
process and its exit status checked. test/docs/README.md states what a block
may contain and how to mark one; in short:

  - a block holds namespace-scope code: #include lines (hoisted to the top of
    the file), declarations, functions, tasks, whole programs. It is compiled
    inside its own `namespace doc_block_N` (N: the block's number in the
    page, from 1), so blocks do not see each other unless marked `continue`;
  - `int main(` is renamed and called by the page's dispatcher main;
  - an HTML comment on the line before the fence sets options, separated by
    commas:  <!-- doc-test: exit 2 -->  (expected exit status, default 0),
    <!-- doc-test: compile-only -->  (a program that is compiled, not run),
    <!-- doc-test: continue -->  (same namespace as the previous block).

usage:
  docblocks.py generate PAGE OUT.cpp LABEL   write the page's C++ file; LABEL
                                             (the page's path in the repository)
                                             names it in diagnostics (#line)
  docblocks.py run EXE LABEL                 run each program block of EXE
  docblocks.py check SRCROOT LABEL...        fail if README.md or a docs/ page
                                             with C++ blocks is not a LABEL
"""
import os
import re
import signal
import subprocess
import sys

CPP_INFO = {'cpp', 'c++', 'cxx'}
FENCE = re.compile(r'^(\s*)(`{3,}|~{3,})\s*([^\s`]*)[^`]*$')  # CommonMark: no ` in a ``` info string
DIRECTIVE = re.compile(r'^\s*<!--\s*doc-test:(.*)-->\s*$')
MAIN = re.compile(r'\bint\s+main\s*\(')
MAIN_NO_ARGS = re.compile(r'\bint\s+main\s*\(\s*(void)?\s*\)')
INCLUDE = re.compile(r'^\s*#\s*include\b')
RUN_TIMEOUT = 60  # seconds, per program block


class Block:
    def __init__(self, number, line, lines, options):
        self.number = number  # 1, 2, ... in page order
        self.line = line  # the page's line number of the block's first line
        self.lines = lines
        self.exit = 0
        self.compile_only = False
        self.group = number  # the namespace: doc_block_<group>
        self.continues = False
        for option in options:
            words = option.split()
            if words == ['compile-only']:
                self.compile_only = True
            elif words == ['continue']:
                self.continues = True
            elif len(words) == 2 and words[0] == 'exit' and words[1].isdigit():
                self.exit = int(words[1])
            else:
                raise ValueError('unknown doc-test option %r (known: exit N, compile-only, continue)' % option)
        self.is_program = any(MAIN.search(l) for l in lines)
        self.main_takes_args = self.is_program and not any(MAIN_NO_ARGS.search(l) for l in lines)


def parse(path):
    """The page's C++ blocks, in order. Raises ValueError('LINE: message')."""
    with open(path, encoding='utf-8') as f:
        text = f.read().splitlines()
    blocks = []
    i = 0
    while i < len(text):
        m = FENCE.match(text[i])
        if not m:
            i += 1
            continue
        indent, fence, info = len(m.group(1)), m.group(2), m.group(3).lower()
        start = i
        body = []
        i += 1
        while i < len(text):
            close = re.match(r'^\s*(%s{%d,})\s*$' % (re.escape(fence[0]), len(fence)), text[i])
            if close:
                break
            line = text[i]
            body.append(line[indent:] if line[:indent].strip() == '' else line.lstrip())
            i += 1
        if i == len(text):
            raise ValueError('%d: unterminated code fence' % (start + 1))
        i += 1
        # The options: an HTML comment on the last non-blank line before the fence.
        before = start - 1
        while before >= 0 and not text[before].strip():
            before -= 1
        directive = DIRECTIVE.match(text[before]) if before >= 0 else None
        if info not in CPP_INFO:
            if directive:
                raise ValueError('%d: doc-test options before a non-C++ block' % (before + 1))
            continue
        options = [o.strip() for o in directive.group(1).split(',') if o.strip()] if directive else []
        try:
            block = Block(len(blocks) + 1, start + 2, body, options)
        except ValueError as e:
            raise ValueError('%d: %s' % (before + 1, e))
        if block.continues:
            if not blocks:
                raise ValueError('%d: `continue` on the first C++ block' % (before + 1))
            block.group = blocks[-1].group
        if block.compile_only and not block.is_program:
            raise ValueError('%d: compile-only on a block without int main(' % (before + 1))
        blocks.append(block)
    return blocks


def c_string(s):
    return '"' + s.replace('\\', '\\\\').replace('"', '\\"') + '"'


def generate(page, out, label):
    blocks = parse(page)
    includes = []
    for b in blocks:
        for l in b.lines:
            if INCLUDE.match(l) and l.strip() not in includes:
                includes.append(l.strip())
    src = ['// Generated from %s by test/docs/docblocks.py: do not edit.' % label]
    src += includes
    src += ['#include <cstdio>', '#include <cstdlib>', '#include <cstring>', '']
    for b in blocks:
        src.append('namespace doc_block_%d {' % b.group)
        src.append('#line %d %s' % (b.line, c_string(label)))
        for l in b.lines:
            l = '' if INCLUDE.match(l) else l  # hoisted; keeps the line numbers
            src.append(MAIN.sub('int doc_main(', l))
        src.append('}  // namespace doc_block_%d' % b.group)
    src.append('#line %d %s' % (len(src) + 2, c_string(os.path.basename(out))))
    programs = [b for b in blocks if b.is_program and not b.compile_only]
    src.append('// --list: "BLOCK LINE EXIT" per program block; BLOCK [ARGS...]: runs it.')
    src.append('int main(int argc, char** argv) {')
    src.append('    if (argc == 2 && std::strcmp(argv[1], "--list") == 0) {')
    for b in programs:
        src.append('        std::puts("%d %d %d");' % (b.number, b.line, b.exit))
    src.append('        return 0;')
    src.append('    }')
    src.append('    [[maybe_unused]] const int block = argc >= 2 ? std::atoi(argv[1]) : 0;')
    src.append('    if (argc >= 2) {  // the block sees its own arguments only')
    src.append('        argv[1] = argv[0];')
    src.append('        --argc;')
    src.append('        ++argv;')
    src.append('    }')
    for b in blocks:
        if b.is_program:
            call = 'doc_main(argc, argv)' if b.main_takes_args else 'doc_main()'
            src.append('    if (block == %d) return doc_block_%d::%s;' % (b.number, b.group, call))
    src.append('    std::fprintf(stderr, "usage: %s --list | BLOCK [ARGS...]\\n", argv[0]);')
    src.append('    return 64;')
    src.append('}')
    text = '\n'.join(src) + '\n'
    try:
        with open(out, encoding='utf-8') as f:
            if f.read() == text:
                return
    except OSError:
        pass
    with open(out, 'w', encoding='utf-8') as f:
        f.write(text)


def default_signals():
    """In the block's process, before exec: signals as a program starts from a
    shell. A runner started in the background (no job control) ignores
    SIGINT and SIGQUIT, and children inherit that; the blocks about the
    SIGQUIT dump and signal handling must see the defaults."""
    for sig in (signal.SIGQUIT, signal.SIGINT):
        signal.signal(sig, signal.SIG_DFL)


def run(exe, label):
    listing = subprocess.run([exe, '--list'], capture_output=True, text=True, check=True).stdout.split('\n')
    failed = 0
    count = 0
    for row in filter(None, listing):
        number, line, expected = (int(x) for x in row.split())
        count += 1
        where = '%s:%d: block %d' % (label, line, number)
        try:
            done = subprocess.run([exe, str(number)], stdin=subprocess.DEVNULL, capture_output=True,
                                  text=True, errors='replace', timeout=RUN_TIMEOUT,
                                  preexec_fn=default_signals)
            status = done.returncode
            output = done.stdout + done.stderr
            got = 'exit status %d' % status if status >= 0 else 'signal %d' % -status
        except subprocess.TimeoutExpired as e:
            status = None
            output = (e.stdout or b'').decode(errors='replace') + (e.stderr or b'').decode(errors='replace')
            got = 'no exit after %ds' % RUN_TIMEOUT
        if status == expected:
            print('%s: ok (exit status %d)' % (where, expected))
            continue
        failed += 1
        print('%s: FAILED: %s, expected exit status %d' % (where, got, expected))
        print('---- output of %s ----\n%s---- end of output ----' % (where, output))
    print('%s: %d program blocks, %d failed' % (label, count, failed))
    return 1 if failed else 0


def pages_with_blocks(root):
    found = []
    candidates = ['README.md']
    for dirpath, _, names in os.walk(os.path.join(root, 'docs')):
        for name in names:
            if name.endswith('.md'):
                candidates.append(os.path.relpath(os.path.join(dirpath, name), root))
    for page in sorted(candidates):
        path = os.path.join(root, page)
        try:
            if os.path.isfile(path) and parse(path):
                found.append(page)
        except ValueError as e:
            raise ValueError('%s:%s' % (page, e))
    return found


def check(root, labels):
    missing = [p for p in pages_with_blocks(root) if p not in labels]
    for page in missing:
        print('%s: has C++ blocks but is not tested: list it in test/docs/meson.build '
              '(if it is listed, it did not exist when the build was configured: '
              'run `meson setup --reconfigure BUILDDIR`)' % page)
    print('%d pages tested, %d untested pages with C++ blocks' % (len(labels), len(missing)))
    return 1 if missing else 0


def main(argv):
    try:
        if len(argv) == 5 and argv[1] == 'generate':
            generate(argv[2], argv[3], argv[4])
            return 0
        if len(argv) == 4 and argv[1] == 'run':
            return run(argv[2], argv[3])
        if len(argv) >= 3 and argv[1] == 'check':
            return check(argv[2], set(argv[3:]))
    except ValueError as e:  # "LINE: message"; check's errors name their page
        print('%s:%s' % (argv[4], e) if argv[1] == 'generate' else e, file=sys.stderr)
        return 1
    print(__doc__, file=sys.stderr)
    return 2


if __name__ == '__main__':
    sys.exit(main(sys.argv))
