"""What pyproject.toml cannot say: ``cypher/`` and ``launcher/`` live at the top of the repository
(where every engineer finds them) but ship inside the package as ``sybilgraph._cypher`` and
``sybilgraph._launcher`` (``package-dir`` in pyproject.toml). Their subdirectories are listed
as packages so setuptools treats them as package-data directories, not as stray modules."""

from setuptools import find_namespace_packages, find_packages, setup


def data_packages(name: str, root: str, **kwargs: object) -> list[str]:
    return [name, *(f"{name}.{sub}" for sub in find_namespace_packages(root, **kwargs))]  # type: ignore[arg-type]


setup(
    packages=[
        *find_packages("src"),
        *data_packages("sybilgraph._cypher", "cypher"),
        *data_packages("sybilgraph._launcher", "launcher", include=["src", "src.*"]),  # not target/
    ]
)
