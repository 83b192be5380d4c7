"""The floor of our own stack: a minimal typer app that prints one small rich table."""
import typer
from rich.console import Console
from rich.table import Table

app = typer.Typer(add_completion=False)


@app.command()
def main(path: str) -> None:
    table = Table(title=path)
    table.add_column("name")
    table.add_column("value")
    table.add_row("loss", "0.5369")
    Console().print(table)


if __name__ == "__main__":
    app()
