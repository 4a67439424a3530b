"""Robot Framework keywords for the ICA co-simulation, one class per keyword family
(built like Robot's ``BuiltIn``: the library class only lists its parts):

- ``context.py``: the event loop thread, the module and device caches, failures with
  the trace tail, `Stop All`;
- ``cloud.py``, ``module.py``, ``at.py``, ``urc.py``, ``uart.py``, ``ota.py``,
  ``mcu.py``: the keyword families;
- ``handles.py``: what a handle points at (the only user of ``pysim.session``);
- ``lines.py``: the lines of a UART and the waits on them;
- ``results.py``: what keywords return.
"""

from __future__ import annotations

from datetime import timedelta

from robot.api.deco import library

from .at import AtKeywords
from .cloud import CloudKeywords
from .cloud_life import CloudLifeKeywords
from .context import ProfileName
from .faults import FaultKeywords
from .mcu import McuKeywords
from .module import ModuleKeywords
from .uart import UartKeywords
from .urc import UrcKeywords
from .ota import OtaKeywords

__version__ = "0.2.0"


@library(scope="SUITE", auto_keywords=False, version=__version__, doc_format="ROBOT")
class IcaLibrary(CloudKeywords, CloudLifeKeywords, ModuleKeywords, AtKeywords, UrcKeywords, UartKeywords,
                 OtaKeywords, McuKeywords, FaultKeywords):
    """Keywords to test a TE, a firmware or the ICA module model itself against the
    in-process cloud (MQTT broker, CoAP and HTTP servers, OTA service).

    = Table of contents =

    %TOC%

    = Two ways to run =

    *Module level*: `Start Cloud`, `Register Device`, `Start Module`; the suite is
    the TE and sends AT commands with `Send AT` and `Send AT With Data`, and reads
    unsolicited result codes with `Wait For URC`.

    *Firmware level*: `Start MCU Session` runs the firmware in an emulator against its
    own cloud and module; `Wait For Line On Uart` and `Console Should Show` read the
    firmware's console (and the AT UART), `MCU Should Exit With` checks its verdict.

    In both, the cloud keywords (`Subscribe As Cloud`, `Publish As Cloud`,
    `Cloud Should Receive`, `Wait For Cloud Event`, `Add Firmware Image`,
    `Announce Firmware`) act on the cloud in use, through an independent paho-mqtt
    client logged in as the cloud's service user where MQTT is involved.

    = Devices and modules =

    A suite may run several modules and several MCU sessions at once.
    `Start Module` and `Start MCU Session` return a handle: an index from 1, or the
    ``alias`` given. The one started last is the active one; `Switch Module` and
    `Switch Device` change that and return the index of the one active before.

    Keywords that act on a module take ``module=None``, on an MCU session
    ``device=None``: ``None`` means the active one. Where a keyword could act on
    either (the UART keywords, `Module Should Be Connected`), a named ``module``
    wins, then a named ``device``, then the active MCU session, then the active module.

    The cloud in use is that of the named ``device``, else the one `Start Cloud`
    started, else the active MCU session's. Modules started by `Start Module` share the
    `Start Cloud` cloud (each registered device logs in with its own credentials);
    each MCU session has its own cloud and module.

    = UARTs =

    The UART keywords (`Wait For Line On Uart`, `Should Not Be On Uart`,
    `Register Failing Uart String`, `Write Line To Uart`) take ``uart``:

    | ``console`` | the firmware's debug console (MCU sessions; the default there) |
    | ``at``      | the AT UART, lines both ways (the default for a `Start Module` module) |
    | ``at-te``   | the AT UART, lines the TE sends (the firmware, or the suite) |
    | ``at-ta``   | the AT UART, lines the module sends |

    As in Renode, `Wait For Line On Uart` reads lines in order: each wait starts
    after the line the previous wait on the same ``uart`` matched, so two waits
    check that two lines came in that order. `Console Should Show` instead finds
    any console line since boot. Content is a plain text found anywhere in the
    line, or with ``regex=True`` a Python regex searched in the line.

    = Return values =

    Keywords return what they found instead of keeping it for later keywords:
    `Wait For URC` returns the URC (``${urc.fields}``, ``${urc.payload}``), `Send AT`
    the response (``${r.final}``, ``${r.raw}``), `Wait For Line On Uart` the match
    (``${m.line}``, ``${m.groups}``, ``${m.timestamp}``), `Cloud Should Receive` the
    message (``${msg.topic}``, ``${msg.payload}``), `Add Firmware Image` the image.
    Each of these is also the plain value older suites used (the URC's line, the
    list of response lines, the payload text, the MD5), so ``${urc}`` still
    compares equal to ``+IMQTTAUTH:OK``.

    = Payloads =

    Payload arguments are Robot strings taken as latin-1 octets (so ``\\x00`` to
    ``\\xff`` escapes give exactly those bytes), or hexadecimal digits when the
    keyword's ``hex`` argument is true (spaces allowed: ``00 01 FF``). Robot
    ``bytes`` values are taken as they are.

    = Module profiles =

    The module follows the spec by default (profile ``spec``). Real MCU-side
    clients need what the modules of their day did, and a profile makes the
    module behave so: ``sdk2`` for the client of Alibaba's device SDK 2.x,
    ``sdk3`` for that of SDK 3.x (both: echo off at power-on, among others; the
    differences are listed in docs/module-behaviour.md of the project).

    The library import argument ``profile`` sets it for every module and MCU
    session of the suite; the ``profile`` argument of `Start Module` and `Start
    MCU Session` for one. It is the same choice as ``pysim run --profile``.

    = Secrets =

    Robot writes every keyword argument to output.xml and log.html. A device
    secret therefore goes to the keywords as a Robot ``Secret`` (Robot Framework
    7.4 or newer), which Robot logs as ``<secret>``. A ``Secret`` variable is
    made from an environment variable (with a default, if you like), in a
    variable file, or with ``VAR``:

    | *** Variables ***
    | ${SECRET: Secret}      %{DEVICE_SECRET=robot-secret-01}
    | ${IDENTITY: Secret}    %{DEVICE_IDENTITY}

    `Register Device` takes it as ``device_secret`` and `Start MCU Session` as
    ``identity`` (``PK:DN:SECRET``). In an AUTH command, write the variable where
    the secret goes and pass it again as ``secret``: Robot turns the variable
    inside the text into ``<secret>``, and `Send AT` sends the secret's value there:

    | Send AT | AT+IMQTTAUTH="${PK}","${DN}","${SECRET}" | secret=${SECRET} |

    The library itself never logs a secret: the secret of an AUTH command line is
    masked (``"********"``) in the trace, in the lines the UART keywords return, in
    the response `Send AT` returns (its ``.raw`` echo included), and every secret
    the library was given is masked in failure messages. A secret given as a plain
    string still works, but Robot then logs it as the keyword's argument.

    = Timeouts =

    Timeouts are Robot time strings: ``10s``, ``1 min 30 s``, ``500ms``, or
    plain seconds. Two defaults are set when the library is imported and changed by
    a keyword that returns the old value:

    | *default*     | *import argument* | *keyword*                  | *used by* |
    | 10 s          | ``at_timeout``    | `Set AT Timeout`           | `Send AT`, `Send AT With Data`, `Wait For URC` |
    | 30 s          | ``uart_timeout``  | `Set Default Uart Timeout` | `Wait For Line On Uart`, `Should Not Be On Uart` (its window) |

    = Failures =

    A failing wait or check says what it expected and what came instead, and its
    message ends with the tail of the trace of the module or device concerned:
    the last AT lines both ways, console lines and cloud events, each with its time
    in seconds, as in:

    | no line 'STEP ota ok' on console within 5 s
    | Trace tail of device 1 (s since it started):
    |    1.204 TE->TA AT+IOTABLOCK=0\\r
    |    1.206 TA->TE \\r\\n+IOTABLOCK:512,1A2B\\r\\n
    |    1.230 console STEP ota fail crc

    = Clean-up =

    `Stop All` stops every MCU session, cloud peer, module and the cloud, then the
    event loop and its thread. It is idempotent; use it in Suite Teardown and, for
    tests that start their own things, in Test Teardown. A keyword after `Stop All`
    starts a new loop.

    = Scope =

    The library scope is ``SUITE``: a Suite Setup that starts a cloud or an MCU
    session (an emulator boot is the expensive part) shares it with the suite's
    tests, while suites stay isolated from each other (and can run in parallel
    with pabot). ``TEST`` scope would hand the tests a different instance from the
    one Suite Setup started things on; ``GLOBAL`` would let one suite's leftovers
    reach the next. A library listener runs `Stop All` when the suite ends, should
    a suite forget its teardown.

    = Deprecated =

    Until the next release, `URC Field`, `URC Payload` and `URC Payload Should Be`
    without their ``urc`` argument act on the URC `Wait For URC` returned last, and
    `Response Field`, `Response Should Contain`, `Raw Output Should Contain`,
    `Raw Output Should Not Contain` and `Block CRC Should Match` without their
    ``response`` argument act on the last command's response. Pass the returned
    value instead.
    """

    def __init__(self, at_timeout: timedelta = timedelta(seconds=10),
                 uart_timeout: timedelta = timedelta(seconds=30), profile: ProfileName = "spec") -> None:
        """``at_timeout`` and ``uart_timeout`` are the default timeouts (see `Timeouts`);
        ``profile`` is the module profile of every module and MCU session the suite
        starts without its own ``profile`` argument (see `Module profiles`).

        Example: ``Library    IcaLibrary    at_timeout=20s    profile=sdk2``
        """
        super().__init__(at_timeout, uart_timeout, profile)
