"""The type stubs (python/siamface/_siamface.pyi) match the native module: every public name of
the module, and every public attribute of each class, is declared there, and nothing more; the
stubs and py.typed sit beside the module, as an installed package has them (PEP 561)."""
import ast
import inspect
import pathlib
import subprocess
import sys

from conftest import missing

STUB = pathlib.Path(__file__).resolve().parents[2] / "python" / "siamface" / "_siamface.pyi"


def public(names):
    return {n for n in names if not n.startswith("_") or n == "__version__"}


def stub_tree():
    return ast.parse(STUB.read_text(encoding="utf-8"))


def stub_names(tree):
    names = {}
    for node in tree.body:
        if isinstance(node, ast.ClassDef):
            members = set()
            for item in node.body:
                if isinstance(item, (ast.FunctionDef, ast.AsyncFunctionDef)):
                    members.add(item.name)
                elif isinstance(item, ast.AnnAssign) and isinstance(item.target, ast.Name):
                    members.add(item.target.id)
            names[node.name] = members
        elif isinstance(node, ast.FunctionDef):
            names[node.name] = None
        elif isinstance(node, ast.AnnAssign) and isinstance(node.target, ast.Name):
            names[node.target.id] = None
    return names


def test_every_public_name_of_the_module_is_in_the_stub(siamface):
    module = siamface._siamface
    declared = stub_names(stub_tree())
    actual = public(dir(module))
    assert actual - set(declared) == set(), "missing from %s" % STUB.name
    assert public(declared) - actual == set(), "in %s but not in the module" % STUB.name
    for name in sorted(actual):
        value = getattr(module, name)
        if not inspect.isclass(value) or issubclass(value, BaseException):
            continue
        members = public(k for k in vars(value) if not k.startswith("__")) | (
            {"__init__"} if "__init__" in vars(value) and value.__init__.__doc__ and "Initialize self" not in value.__init__.__doc__ else set())
        members |= {k for k in ("__bool__", "__enter__", "__exit__", "__len__", "__eq__") if k in vars(value)}
        stubbed = declared[name]
        assert members - stubbed == set(), "%s members missing from the stub" % name
        assert public(m for m in stubbed if not m.startswith("__")) - members == set(), "%s: stub declares more" % name


def test_the_stub_signatures_name_the_modules_keywords(siamface):
    """Each function's parameter names (from pybind11's signature line) are the stub's."""
    module = siamface._siamface
    tree = stub_tree()
    checked = 0
    for node in ast.walk(tree):
        if not isinstance(node, ast.ClassDef):
            continue
        cls = getattr(module, node.name)
        for item in node.body:
            if not isinstance(item, ast.FunctionDef) or item.decorator_list or item.name.startswith("__"):
                continue
            doc = getattr(cls, item.name).__doc__.splitlines()[0]
            stub_params = [a.arg for a in item.args.args + item.args.kwonlyargs][1:]
            for param in stub_params:
                assert "%s:" % param in doc, (node.name, item.name, param, doc)
            checked += 1
    assert checked > 10


def test_stubs_and_py_typed_ship_beside_the_module(siamface):
    package = pathlib.Path(siamface.__file__).parent
    assert (package / "_siamface.pyi").is_file() and (package / "py.typed").is_file(), package


def test_stubtest_finds_the_stubs_true_to_the_module(siamface):
    """mypy's stubtest (pinned in scripts/python-test-requirements.txt, in ctest python_wheel's venv)."""
    try:
        import mypy.stubtest  # noqa: F401
    except ImportError:
        missing("mypy is not installed for %s (scripts/python-test-requirements.txt)" % sys.executable)
    allowlist = pathlib.Path(__file__).resolve().parent / "stubtest_allowlist.txt"
    result = subprocess.run([sys.executable, "-m", "mypy.stubtest", "siamface._siamface", "--ignore-missing-stub",
                             "--allowlist", str(allowlist)], capture_output=True, text=True, timeout=600)
    assert result.returncode == 0, result.stdout[-4000:]
