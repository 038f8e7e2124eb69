"""A client generated from openapi.json with a standard generator (openapi-python-client)
drives the local server through the incident lifecycle and key usage: the document must
keep generating a client that works. Usage: client_check.py PACKAGE_DIR URL KEY"""
import sys
import uuid

sys.path.insert(0, sys.argv[1])
from livestatus_client import AuthenticatedClient  # noqa: E402
from livestatus_client.api.incidents import (  # noqa: E402
    create_incident, delete_incident, get_incident, list_org_incidents)
from livestatus_client.api.keys import get_key_usage, list_keys  # noqa: E402
from livestatus_client.api.pages import create_page  # noqa: E402
from livestatus_client.models import (  # noqa: E402
    CreateIncident, CreatePage, Impact, IncidentStatus, ListOrgIncidentsOpen)

url, key = sys.argv[2], sys.argv[3]
client = AuthenticatedClient(base_url=url, token=key, raise_on_unexpected_status=True)
checks = 0


def check(what, ok):
    global checks
    if not ok:
        sys.exit(f"generated client: {what} failed")
    checks += 1


page = create_page.sync(client=client, body=CreatePage(name="Client check", slug=f"client-{uuid.uuid4().hex[:12]}")).data
opened = create_incident.sync(page.id, client=client, body=CreateIncident(
    title="Generated client", impact=Impact.MINOR, status=IncidentStatus.INVESTIGATING, body="Opened by a generated client.")).data
check("open an incident", opened.page_id == page.id)
listed = list_org_incidents.sync(client=client, open_=ListOrgIncidentsOpen.TRUE, page_id=page.id)
check("list the organization's open incidents", [i.id for i in listed.data] == [opened.id])
check("delete the incident", delete_incident.sync_detailed(opened.id, client=client).status_code == 204)
check("read it after the delete: 404", get_incident.sync_detailed(opened.id, client=client).status_code == 404)
ours = next(k for k in list_keys.sync(client=client).data if key.startswith(k.prefix))
usage = get_key_usage.sync(ours.id, client=client).data
check("key usage covers 30 days", len(usage.days) == 30 and usage.admitted >= 5)
print(f"generated client: {checks} checks passed")
