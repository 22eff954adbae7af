# Event handler for the benchmark's "hooks" scenario (issue #4's handler-overhead benchmark), in the
# reference's format: files are registered in place (the default operation), and every new data
# object passes through pre_data_obj_create and post_data_obj_create; the post hook adds one AVU
# through the python-irodsclient session the hooks receive.
from irods_capability_automated_ingest.core import Core


class event_handler(Core):
    @staticmethod
    def pre_data_obj_create(hdlr_mod, logger, session, meta, **options):
        logger.debug("pre_data_obj_create", path=meta["path"])

    @staticmethod
    def post_data_obj_create(hdlr_mod, logger, session, meta, **options):
        obj = session.data_objects.get(meta["target"])
        obj.metadata.add("bench_ingested", "yes")
