from ollm_tui.cli import main

raise SystemExit(main())
