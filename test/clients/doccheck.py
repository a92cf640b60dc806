"""The doc pages' Python recipes are the code the framework tests run: each
helper module's code (past its docstring) must appear in its page verbatim."""
import ast
import pathlib

ROOT = pathlib.Path(__file__).resolve().parents[2]


def doc_text(page):
    return (ROOT / 'doc' / page).read_text()


def module_code(path):
    """A module's source past its docstring, without leading blank lines."""
    src = pathlib.Path(path).read_text()
    body = ast.parse(src).body
    if body and isinstance(body[0], ast.Expr) and isinstance(body[0].value, ast.Constant):
        src = '\n'.join(src.splitlines()[body[0].end_lineno:])
    return src.strip('\n') + '\n'


def assert_in_doc(page, code):
    assert code.strip('\n') in doc_text(page), \
        'doc/%s must show this code as it is:\n%s' % (page, code)
