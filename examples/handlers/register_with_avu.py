# An event handler in the reference's format: register files in place and tag each new data object.
from irods_capability_automated_ingest.core import Core
from irods_capability_automated_ingest.utils import Operation
from irods.meta import iRODSMeta


class event_handler(Core):
    @staticmethod
    def operation(session, meta, **options):
        return Operation.REGISTER_SYNC

    @staticmethod
    def post_data_obj_create(hdlr_mod, logger, session, meta, **options):
        obj = session.data_objects.get(meta["target"])
        obj.metadata.add(iRODSMeta("ingested_by", "irods-ingest demo"))
        logger.info("tagged", path=meta["target"])
