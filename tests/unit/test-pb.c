/* SPDX-License-Identifier: MIT */
/* Placeholder: being written (see tests/meson.build 'pb'). */
int main(void)
{
    return 77; /* skipped */
}
