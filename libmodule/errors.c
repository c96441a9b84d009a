/* SPDX-License-Identifier: MIT */
/* Names for every code libmodule returns. */
#include <string.h>

#include "uipc/module.h"

const char *uipc_strerror(int err)
{
    switch (-err) {
    case 0: return "success";
    case UIPC_EPEERDIED: return "peer died or service down";
    case UIPC_ETIMEDOUT: return "call timed out";
    case UIPC_ENOSLOT: return "no free command slot";
    case UIPC_ETOOBIG: return "command or reply larger than a slot";
    case UIPC_EPROTO: return "peer broke the channel protocol";
    case UIPC_EBADSTATUS: return "handler returned a reserved status";
    case UIPC_ESTOPPED: return "the supervisor asks this module to stop";
    case UIPC_ENOLINK: return "remote service unreachable: no link, or down there; not run";
    case UIPC_ELINKLOST: return "link to the remote service lost; the call may have run";
    default: break;
    }
    if (err < 0 && err > -UIPC_ERANGE_MIN)
        return strerror(-err); /* an errno-style code */
    if (uipc_is_transport_error(err))
        return "unknown uipc transport error";
    return "not an error code";
}
