"""``python -m referral_engine`` runs the command line."""

from .cli import main

raise SystemExit(main())
