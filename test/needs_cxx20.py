#!/usr/bin/env python3
"""For each public header, compiles a user's file that includes it with -std=c++17
and checks that the compiler says, first, that ringo needs C++20, and stops there.

usage: needs_cxx20.py INCLUDE_DIR COMPILER [COMPILER_ARGS...]
"""
import os
import subprocess
import sys
import tempfile

include_dir, compiler = sys.argv[1], sys.argv[2:]
headers = sorted(h for h in os.listdir(os.path.join(include_dir, 'ringo')) if h.endswith('.hpp'))
failed = 0
for header in headers:
    with tempfile.NamedTemporaryFile('w', suffix='.cpp') as src:
        src.write('#include <ringo/%s>\nint main() { return 0; }\n' % header)
        src.flush()
        done = subprocess.run(compiler + ['-std=c++17', '-fsyntax-only', '-I', include_dir, src.name],
                              capture_output=True, text=True)
    out = done.stdout + done.stderr
    # Diagnostics only ("FILE:LINE:COL: error: ..."), not the source lines compilers echo.
    errors = [line for line in out.splitlines() if ': error:' in line or ': fatal error:' in line]
    ok = (done.returncode != 0 and errors and 'ringo needs C++20: -std=c++20 / cpp_std=c++20' in errors[0]
          and len(errors) <= 2 and all('ringo' in line for line in errors))
    if not ok:
        failed += 1
        print(out)
        print('needs_cxx20: <ringo/%s>: expected one clear "ringo needs C++20" error, got %d error lines'
              % (header, len(errors)))
print('%d of %d public headers give one clear error without C++20' % (len(headers) - failed, len(headers)))
sys.exit(1 if failed else 0)
