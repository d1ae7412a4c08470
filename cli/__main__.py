from duecare.cli.main import main

main()
