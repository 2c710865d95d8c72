"""The test suite (`make test`). A package, so that plain `pytest` also finds
`tests._browser` and the checkout's `experiments` package: pytest puts the folder above
a test package on sys.path."""
