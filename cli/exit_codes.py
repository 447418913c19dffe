"""Exit codes of `rmpsam-matte`, stable so render-farm wranglers can act on them.

0  success
1  unexpected internal error (a bug: please report it with the log)
2  usage error (bad option; click's own convention)
3  bad input: a sequence, prompt file, weights file or option value that cannot be used
4  output problem: the output location cannot be written
5  interrupted or cancelled; rerunning resumes
"""

OK = 0
INTERNAL_ERROR = 1
USAGE_ERROR = 2
BAD_INPUT = 3
OUTPUT_ERROR = 4
INTERRUPTED = 5
