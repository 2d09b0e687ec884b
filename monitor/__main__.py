"""`python -m monitor` is `tanfang`."""

from monitor.cli import main

main()
