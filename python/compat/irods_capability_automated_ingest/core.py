"""``Core``: the base class of event handlers.

``on_<event>(func, *args, **options)`` runs ``pre_<event>`` if the handler defines it, then the
operation ``func``, then ``post_<event>`` if defined; ``post_<event>`` is skipped when ``func``
raises. Every call gets its own copy of ``options`` (keyword unpacking), as in the reference.
"""


def _around(event):
    pre, post = "pre_" + event, "post_" + event

    def on_event(cls, func, *args, **options):
        if hasattr(cls, pre):
            getattr(cls, pre)(*args, **options)
        func(*args, **options)
        if hasattr(cls, post):
            getattr(cls, post)(*args, **options)

    on_event.__name__ = on_event.__qualname__ = "on_" + event
    return classmethod(on_event)


class Core(object):
    on_data_obj_create = _around("data_obj_create")
    on_data_obj_modify = _around("data_obj_modify")
    on_data_obj_delete = _around("data_obj_delete")
    on_coll_create = _around("coll_create")
    on_coll_modify = _around("coll_modify")
    on_coll_delete = _around("coll_delete")
