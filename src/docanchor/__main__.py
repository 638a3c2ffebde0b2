from docanchor.cli import main

main()
