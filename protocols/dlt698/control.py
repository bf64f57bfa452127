"""The control byte C of a DL/T 698.45 frame.

Bit layout::

    D7   D6   D5    D4  D3   D2 D1 D0
    DIR  PRM  FRAG  -   SC   function code

DIR 0 = client -> server, 1 = server -> client; PRM 1 = the exchange was started by
the client, 0 = by the server; FRAG = the APDU is a fragment; SC = the APDU bytes are
scrambled (+0x33). Function 1 = link management (LINK), 3 = user data.

DIR and PRM together say who sent the frame and who started the exchange::

    43  client request            C3  server response to it
    81  server link request       01  the client's answer to it   (function 1)
    83  server report             03  the client's answer to it   (function 3)
"""

from __future__ import annotations

from typing import Final

DIR_SERVER: Final[int] = 0x80
PRM: Final[int] = 0x40
FRAGMENT: Final[int] = 0x20
SCRAMBLED: Final[int] = 0x08
FUNCTION_MASK: Final[int] = 0x07

FUNCTION_LINK: Final[int] = 1
FUNCTION_DATA: Final[int] = 3

CLIENT_REQUEST: Final[int] = 0x43
SERVER_RESPONSE: Final[int] = 0xC3
SERVER_LINK_REQUEST: Final[int] = 0x81
CLIENT_LINK_RESPONSE: Final[int] = 0x01
SERVER_REPORT: Final[int] = 0x83
CLIENT_REPORT_RESPONSE: Final[int] = 0x03
