"""Small python-irodsclient helper for the tests: sets up and inspects iRODS state.

usage: irods_objects.py ENV_FILE put LOCAL LOGICAL
       irods_objects.py ENV_FILE avus LOGICAL      (prints JSON [[attr, value, units], ...])
       irods_objects.py ENV_FILE mkuser NAME       (a rodsuser with a home collection)
       irods_objects.py ENV_FILE owner LOGICAL     (prints the collection's owner)
"""

import json
import sys

from irods.session import iRODSSession

env_file, command = sys.argv[1], sys.argv[2]
with iRODSSession(irods_env_file=env_file) as session:
    if command == "put":
        session.data_objects.put(sys.argv[3], sys.argv[4])
    elif command == "avus":
        path = sys.argv[3]
        if session.collections.exists(path):
            target = session.collections.get(path)
        else:
            target = session.data_objects.get(path)
        print(json.dumps(sorted([m.name, m.value, m.units or ""] for m in target.metadata.items())))
    elif command == "mkuser":
        session.users.create(sys.argv[3], "rodsuser")
        home = "/tempZone/home/" + sys.argv[3]
        if not session.collections.exists(home):
            session.collections.create(home)
        from irods.access import iRODSAccess

        session.acls.set(iRODSAccess("own", home, sys.argv[3], "tempZone"))
    elif command == "owner":
        print(session.collections.get(sys.argv[3]).owner_name, end="")
    else:
        raise SystemExit("unknown command " + command)
