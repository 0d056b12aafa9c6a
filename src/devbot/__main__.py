from devbot.triggers.cli import main

raise SystemExit(main())
