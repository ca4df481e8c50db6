/* Bare-metal start for a Cortex-M4 under QEMU: vector table, .data and .bss, the FPU, semihosting, main. */
#include <stdlib.h>
#include <string.h>
extern unsigned __etext, __data_start__, __data_end__, __bss_start__, __bss_end__, __stack_top;
int main(void);
void initialise_monitor_handles(void);
void reset_handler(void);
void _init(void);
void _fini(void);
void _init(void) {}
void _fini(void) {}
static void hang(void) { for (;;) {} }
__attribute__((section(".vectors"), used)) static void (*const vectors[16])(void) = {
    (void (*)(void))&__stack_top, reset_handler, hang, hang, hang, hang, hang, 0, 0, 0, 0, hang, hang, 0, hang, hang};
void reset_handler(void) {
    memcpy(&__data_start__, &__etext, (size_t)((char *)&__data_end__ - (char *)&__data_start__));
    memset(&__bss_start__, 0, (size_t)((char *)&__bss_end__ - (char *)&__bss_start__));
    *(volatile unsigned *)0xE000ED88 |= 0xFu << 20; /* CP10, CP11: the FPU */
    __asm volatile("dsb\n isb");
    initialise_monitor_handles();
    exit(main());
}
