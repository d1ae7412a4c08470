from duecare.cli.dispatch import main

main()
