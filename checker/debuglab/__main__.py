from debuglab.cli import main

main()
