"""``python -m bench``: the benchmark suite in one command."""

from bench.run import main

raise SystemExit(main())
