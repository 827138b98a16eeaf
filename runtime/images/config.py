"""What an image's config holds when its author said nothing: Docker's default ``PATH``.

A leaf module, so that the store and the built-in images can both use it without importing each other
(the store creates built-ins on first use; built-ins never need the store's module).
"""

DEFAULT_PATH = "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
