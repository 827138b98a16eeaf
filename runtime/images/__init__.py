"""The local image store: content-addressed blobs, layers extracted once, overlay mounts.

    >>> from runtime.images import open_store
    >>> store = open_store()                      # $VMVC_ROOT/images or /var/lib/vmvc/images
    >>> img = store.resolve("busybox")            # built-ins are created on first use
    >>> img.layer_dirs                            # top first: lowerdir=top:...:bottom
    >>> store.hold(img.id, "c0ffee")              # rmi now refuses unless forced

``store.import_tar(path, "name:tag")`` is ``docker import``; :mod:`runtime.images.archives` moves
images in and out as docker-archive and OCI tarballs; :func:`runtime.images.overlay.mount_overlay`
mounts an image's layers under a container's own upper dir.
"""

from runtime.images.store import Image, ImageStore, open_store

__all__ = ["Image", "ImageStore", "open_store"]
