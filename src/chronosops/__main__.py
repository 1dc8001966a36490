from chronosops.cli import main

main()
