# Event handler for the benchmark's PUT scenario, in the reference's format: upload every file
# into the iRODS vault instead of registering it in place. Nothing else is overridden.
from irods_capability_automated_ingest.core import Core
from irods_capability_automated_ingest.utils import Operation


class event_handler(Core):
    @staticmethod
    def operation(session, meta, **options):
        return Operation.PUT
