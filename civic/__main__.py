from civic.cli import main

raise SystemExit(main())
