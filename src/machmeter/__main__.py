from machmeter.cli import main

raise SystemExit(main())
