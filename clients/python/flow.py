"""Every main flow through the Python client openapi-python-client generated from
openapi/openapi.json, unedited, against a running service (scripts/generated-clients).

Environment: ACCOUNTS_URL, and ACCOUNTS_OWNER_EMAIL / ACCOUNTS_OWNER_PASSWORD of an owner.
Exits non-zero, saying where, when an answer is not what the document promises.
"""

import os
import uuid

from accounts_client import AuthenticatedClient, Client
from accounts_client.api.accounts import sign_up
from accounts_client.api.addresses import add_address
from accounts_client.api.admin import admin_list_users
from accounts_client.api.follows import follow
from accounts_client.api.me import get_me, update_me
from accounts_client.api.sessions import sign_in
from accounts_client.models import (
    AccountView,
    AdminUserPage,
    FollowRequest,
    NewAddress,
    NewSessionView,
    Problem,
    SignedUp,
    SignInRequest,
    SignUpRequest,
    UpdateMeRequest,
)
from accounts_client.types import Unset

URL = os.environ["ACCOUNTS_URL"]
PASSWORD = "correct horse battery staple"


def expect(kind, answer, what):
    """The parsed answer, which must be of `kind`."""
    assert isinstance(answer.parsed, kind), f"{what}: {answer.status_code} {answer.content!r}"
    return answer.parsed


def signed_in(email, password):
    public = Client(base_url=URL, raise_on_unexpected_status=True)
    answer = sign_in.sync_detailed(client=public, body=SignInRequest(email=email, password=password))
    session = expect(NewSessionView, answer, "sign-in")
    assert answer.status_code == 201, answer.status_code
    return AuthenticatedClient(base_url=URL, token=session.token, raise_on_unexpected_status=True)


def main():
    public = Client(base_url=URL, raise_on_unexpected_status=True)
    emails = [f"py-{uuid.uuid4().hex}@example.com" for _ in range(2)]
    accounts = []
    for email in emails:
        answer = sign_up.sync_detailed(client=public, body=SignUpRequest(email=email, password=PASSWORD))
        accounts.append(expect(SignedUp, answer, "sign-up").account)
    me = signed_in(emails[0], PASSWORD)

    mine = expect(AccountView, get_me.sync_detailed(client=me), "get me")
    assert mine.email == emails[0] and mine.id == accounts[0].id, mine
    changed = update_me.sync_detailed(client=me, body=UpdateMeRequest(display_name="Py Client", bio="generated"))
    changed = expect(AccountView, changed, "update me")
    assert changed.display_name == "Py Client" and changed.bio == "generated", changed

    address = NewAddress(receiver="张三", receiver_phone="13800138000", address="西湖区文三路 1 号",
                         postcode="310000", tag="home")
    book = add_address.sync_detailed(client=me, body=address)
    assert book.status_code == 201 and isinstance(book.parsed, list), book.content
    assert book.parsed[0].receiver == "张三" and book.parsed[0].is_default, book.parsed

    followed = follow.sync_detailed(user_id=accounts[1].id, client=me, body=FollowRequest())
    assert followed.status_code in (200, 201), followed.content
    position = int(followed.headers["accounts-position"])

    owner = signed_in(os.environ["ACCOUNTS_OWNER_EMAIL"], os.environ["ACCOUNTS_OWNER_PASSWORD"])
    page = admin_list_users.sync_detailed(client=owner, fields="id,email", include_total=True,
                                          q=emails[0], min_position=position)
    page = expect(AdminUserPage, page, "admin listing")
    assert page.total == 1 and len(page.items) == 1, page
    assert page.items[0].email == emails[0], page.items[0]
    assert isinstance(page.items[0].display_name, Unset), page.items[0]

    wrong = sign_in.sync_detailed(client=public, body=SignInRequest(email=emails[0], password="wrong " + PASSWORD))
    problem = expect(Problem, wrong, "a wrong password")
    assert wrong.status_code == 401 and problem.code == "invalid_credentials", problem
    refused = update_me.sync_detailed(client=me, body=UpdateMeRequest(display_name="x" * 200))
    problem = expect(Problem, refused, "an invalid field")
    assert problem.status == 422 and problem.code == "validation_failed", problem
    assert not isinstance(problem.errors, Unset) and problem.errors[0].field == "display_name", problem
    print("python client: every flow passed")


if __name__ == "__main__":
    main()
