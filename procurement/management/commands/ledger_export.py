"""Write the ledger tree's entries as JSON lines for the offline verifier (`shanhai-verify`)."""

from django.core.management.base import BaseCommand

from procurement.services import transparency


class Command(BaseCommand):
    help = "Export the entries in tree order with their leaf data (JSON lines) to stdout or a file."

    def add_arguments(self, parser):
        parser.add_argument("--size", type=int, help="stop at this tree size (a checkpoint's)")
        parser.add_argument("--out", help="file to write (default: stdout)")

    def handle(self, *args, size=None, out=None, **options):
        if not out:
            for line in transparency.tree_lines(size):
                self.stdout.write(line, ending="")
            return
        with open(out, "w", encoding="utf-8") as stream:
            stream.writelines(transparency.tree_lines(size))
