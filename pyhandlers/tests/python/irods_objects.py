"""Small python-irodsclient helper for the tests: sets up and inspects iRODS state.

usage: irods_objects.py ENV_FILE put LOCAL LOGICAL
       irods_objects.py ENV_FILE avus LOGICAL      (prints JSON [[attr, value, units], ...])
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
    else:
        raise SystemExit("unknown command " + command)
